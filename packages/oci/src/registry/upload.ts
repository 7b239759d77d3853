import { Readable } from 'node:stream';
import { AirlockError } from '../errors.js';
import type { Descriptor } from '../manifest/schema.js';
import { drain } from '../util/body.js';
import { pullScope, pushScope } from './auth.js';
import type { RegistryClient } from './client.js';
import { responseError } from './errors.js';
import { header, type HttpResponse } from './transport.js';

/** Opens the blob's content from the start, verified against its descriptor while it streams. */
export type BlobOpener = () => Promise<Readable>;

export interface UploadOptions {
  /** Blobs up to this size go in one streamed PUT; larger ones as a resumable PATCH upload. */
  monolithicMax?: number;
  /** When set, upload in PATCH chunks of this size (at least the registry's OCI-Chunk-Min-Length). */
  chunkSize?: number;
  /** Resume attempts after a dropped connection before giving up on this blob. */
  resumes?: number;
  /** A repository on the same registry that holds the blob: try a cross-repository mount first. */
  mountFrom?: string;
  signal?: AbortSignal;
}

export type UploadOutcome = 'uploaded' | 'mounted';

const DEFAULT_MONOLITHIC_MAX = 32 * 1024 * 1024;

function putUrl(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/** Skip the first `n` bytes of a stream (they reached the registry before the connection dropped). */
function skipBytes(src: Readable, n: number): Readable {
  if (n <= 0) return src;
  let toSkip = n;
  return Readable.from(
    (async function* () {
      for await (const c of src) {
        const chunk = c as Buffer;
        if (toSkip >= chunk.length) {
          toSkip -= chunk.length;
          continue;
        }
        yield toSkip > 0 ? chunk.subarray(toSkip) : chunk;
        toSkip = 0;
      }
    })(),
    { objectMode: false },
  );
}

/** Chunks of exactly `size` bytes (the last may be shorter); bounded memory of one chunk. */
async function* chunksOf(src: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const c of src) {
    let chunk = c as Buffer;
    while (chunk.length) {
      const take = Math.min(size - n, chunk.length);
      parts.push(chunk.subarray(0, take));
      n += take;
      chunk = chunk.subarray(take);
      if (n === size) {
        yield Buffer.concat(parts, n);
        parts = [];
        n = 0;
      }
    }
  }
  if (n) yield Buffer.concat(parts, n);
}

/**
 * Push one blob. Strategy, as the distribution spec allows:
 * - cross-repository mount when a sibling repository has it (falls back to upload if refused);
 * - small blobs: POST then one streamed monolithic PUT;
 * - large blobs: POST, streamed PATCH, PUT; a dropped connection asks the registry for its offset
 *   (GET upload URL → Range) and resumes from there, re-reading the source but not re-sending;
 * - `chunkSize`: PATCH with Content-Range chunks honouring OCI-Chunk-Min-Length.
 * The registry verifies the digest on the closing PUT, and the source stream is verified too, so a
 * corrupt blob is never committed.
 */
export async function pushBlob(client: RegistryClient, repo: string, desc: Descriptor, open: BlobOpener, opts: UploadOptions = {}): Promise<UploadOutcome> {
  const what = `upload ${desc.digest} to ${client.registry}/${repo}`;
  const scopes = opts.mountFrom ? [pushScope(repo), pullScope(opts.mountFrom)] : [pushScope(repo)];
  const startPath = opts.mountFrom
    ? `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(opts.mountFrom)}`
    : `/v2/${repo}/blobs/uploads/`;
  // A small blob that is not being mounted goes up in one PUT: open the source while the POST is in
  // flight, saving a round trip per blob on a distant source.
  const monolithic = !opts.chunkSize && desc.size <= (opts.monolithicMax ?? DEFAULT_MONOLITHIC_MAX);
  const early = monolithic && !opts.mountFrom ? open() : undefined;
  early?.catch(() => undefined);
  let start: HttpResponse;
  try {
    start = await client.send(scopes, { method: 'POST', path: startPath, headers: { 'content-length': '0' } });
  } catch (e) {
    early?.then((b) => b.destroy()).catch(() => undefined);
    throw e;
  }
  if (start.status !== 202) early?.then((b) => b.destroy()).catch(() => undefined);
  if (start.status === 201 && opts.mountFrom) {
    await drain(start.body);
    return 'mounted';
  }
  if (start.status !== 202) throw await responseError(start, what);
  await drain(start.body);
  let location = client.transport.absolute(client.host, header(start.headers, 'location') ?? '');
  const minChunk = Number(header(start.headers, 'oci-chunk-min-length') ?? '0') || 0;

  if (opts.chunkSize) {
    await chunkedUpload(client, repo, desc, open, location, Math.max(opts.chunkSize, minChunk), what);
    return 'uploaded';
  }
  if (monolithic) {
    const body = await (early ?? open());
    const res = await client.send([pushScope(repo)], {
      method: 'PUT',
      path: putUrl(location, desc.digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
      body: () => body,
      retry: false,
      signal: opts.signal,
    }).catch((e) => {
      body.destroy();
      throw e;
    });
    if (res.status !== 201) throw await responseError(res, what);
    await drain(res.body);
    return 'uploaded';
  }

  // Streamed PATCH with resume.
  let offset = 0;
  const maxResumes = opts.resumes ?? 3;
  for (let attempt = 0; ; attempt++) {
    const body = skipBytes(await open(), offset);
    let res: HttpResponse | undefined;
    let failure: unknown;
    try {
      res = await client.send([pushScope(repo)], {
        method: 'PATCH',
        path: location,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(desc.size - offset),
          ...(offset > 0 ? { 'content-range': `${offset}-${desc.size - 1}` } : {}),
        },
        body: () => body,
        retry: false,
        signal: opts.signal,
      });
    } catch (e) {
      body.destroy();
      failure = e;
    }
    if (res && res.status === 202) {
      await drain(res.body);
      location = client.transport.absolute(client.host, header(res.headers, 'location') ?? location);
      break;
    }
    if (res && res.status < 500) throw await responseError(res, what);
    if (res) await drain(res.body);
    // Content errors (digest mismatch) are final; connection trouble and 5xx resume.
    if (failure instanceof AirlockError && failure.code === 'DIGEST_MISMATCH') throw failure;
    if (attempt >= maxResumes) {
      throw failure instanceof AirlockError ? failure : new AirlockError('NETWORK', `${what}: upload failed after ${attempt + 1} attempts`, { cause: failure });
    }
    const status = await uploadStatus(client, repo, location);
    if (!status) {
      // The session is gone: start the blob again from nothing.
      return pushBlob(client, repo, desc, open, { ...opts, mountFrom: undefined, resumes: maxResumes - attempt - 1 });
    }
    location = status.location;
    offset = status.offset;
  }
  await closeUpload(client, repo, location, desc, what);
  return 'uploaded';
}

/** Close an upload session: PUT ?digest= with no body; the registry checks the digest. */
async function closeUpload(client: RegistryClient, repo: string, location: string, desc: Descriptor, what: string): Promise<void> {
  const done = await client.send([pushScope(repo)], {
    method: 'PUT',
    path: putUrl(location, desc.digest),
    headers: { 'content-length': '0' },
  });
  if (done.status !== 201) throw await responseError(done, what);
  await drain(done.body);
}

/**
 * Ask the registry how much of an upload session it holds (GET → 204, Range: 0-N). Undefined when
 * the session is gone, or when its offset cannot be known: distribution answers `0-0` both for an
 * empty session and for one holding a single byte, so resuming would risk skipping or repeating one.
 */
export async function uploadStatus(client: RegistryClient, repo: string, location: string): Promise<{ offset: number; location: string } | undefined> {
  const res = await client.send([pushScope(repo)], { method: 'GET', path: location });
  await drain(res.body);
  if (res.status !== 204 && res.status !== 202) return undefined;
  const range = header(res.headers, 'range');
  const m = range ? /^(?:bytes=)?0-(\d+)$/.exec(range) : null;
  if (m && m[1] === '0') return undefined;
  const offset = m ? Number(m[1]) + 1 : 0;
  return { offset, location: client.transport.absolute(client.host, header(res.headers, 'location') ?? location) };
}

async function chunkedUpload(client: RegistryClient, repo: string, desc: Descriptor, open: BlobOpener, location: string, size: number, what: string): Promise<void> {
  let offset = 0;
  for await (const chunk of chunksOf(await open(), size)) {
    // Each chunk is held in memory, so it can be re-sent after a transient failure.
    const res = await client.send([pushScope(repo)], {
      method: 'PATCH',
      path: location,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(chunk.length),
        'content-range': `${offset}-${offset + chunk.length - 1}`,
      },
      body: () => chunk,
    });
    if (res.status !== 202) throw await responseError(res, what);
    await drain(res.body);
    location = client.transport.absolute(client.host, header(res.headers, 'location') ?? location);
    offset += chunk.length;
  }
  await closeUpload(client, repo, location, desc, what);
}
