import { Readable } from 'node:stream';
import { sourceFaultOf } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import type { Descriptor } from '../manifest/schema.js';
import { drain } from '../util/body.js';
import { pullScope, pushScope } from './auth.js';
import type { RegistryClient } from './client.js';
import { responseError, transientHint } from './errors.js';
import { backoffMs, header, isRetryableStatus, retryAfterMs, type HttpResponse } from './transport.js';
import { sleep } from '../util/sleep.js';

/** Opens the blob's content from the start, verified against its descriptor while it streams. */
export type BlobOpener = () => Promise<Readable>;

export interface UploadOptions {
  /** Blobs up to this size go in one streamed PUT; larger ones as a resumable PATCH upload. */
  monolithicMax?: number;
  /** When set, upload in PATCH chunks of this size (at least the registry's OCI-Chunk-Min-Length). */
  chunkSize?: number;
  /**
   * Further attempts after a dropped connection or a transient answer (resumed or new sessions)
   * before giving up on this blob; default: the transport's retries.
   */
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

/** Attempts at one blob's upload, shared by every strategy (new sessions and resumed ones). */
interface Attempts {
  n: number;
  max: number;
}

/**
 * Failures of one attempt that another attempt may cure: a 408/429/5xx answer or a dropped connection
 * on a request the transport could not retry itself (its body is a one-shot stream), or an upload
 * session that was lost. Retry-After, when the registry sent one, is kept.
 */
const again = new WeakMap<object, { retryAfterMs?: number; maybeCommitted?: boolean }>();

function retryable<E extends object>(e: E, info: { retryAfterMs?: number; maybeCommitted?: boolean } = {}): E {
  again.set(e, info);
  return e;
}

/** The same error, saying how many attempts were made. */
function afterAttempts(e: unknown, n: number): unknown {
  if (n <= 1 || !(e instanceof AirlockError) || /\(\d+ attempts\)/.test(e.message)) return e;
  return new AirlockError(e.code, `${e.message} (${n} attempts)`, { hint: transientHint(e.status, n) ?? e.hint, status: e.status, cause: e });
}

/** A one-shot request of an upload (a streamed body): its failure is judged by the upload loop. */
async function sendOnce(client: RegistryClient, repo: string, req: Parameters<RegistryClient['send']>[1], what: string, ok: (status: number) => boolean, maybeCommitted = false): Promise<HttpResponse> {
  let res: HttpResponse;
  try {
    res = await client.send([pushScope(repo)], { ...req, retry: false });
  } catch (e) {
    if (e instanceof AirlockError && e.code !== 'NETWORK') throw e;
    throw retryable(e instanceof Error ? e : new Error(String(e)), { maybeCommitted });
  }
  if (ok(res.status)) return res;
  const retryAfter = retryAfterMs(header(res.headers, 'retry-after'));
  const err = await responseError(res, what);
  if (!isRetryableStatus(res.status) && !damagedOnTheWay(err)) throw err;
  throw retryable(err, { ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}), maybeCommitted });
}

/**
 * The registry found the bytes it received do not match the digest. What we sent was verified
 * against that digest as it left, so they were damaged on the way: a new session sends them again
 * (the registry committed nothing).
 */
function damagedOnTheWay(err: AirlockError): boolean {
  return err.status === 400 && /\bDIGEST_INVALID\b/.test(err.message);
}

/**
 * Push one blob. Strategy, as the distribution spec allows:
 * - cross-repository mount when a sibling repository has it (falls back to upload if refused);
 * - small blobs: POST then one streamed monolithic PUT;
 * - large blobs: POST, streamed PATCH, PUT; a dropped connection asks the registry for its offset
 *   (GET upload URL → Range) and resumes from there, re-reading the source but not re-sending;
 * - `chunkSize`: PATCH with Content-Range chunks honouring OCI-Chunk-Min-Length.
 * A 408/429/5xx answer or a dropped connection on a streamed request starts the upload again (a new
 * session, the source opened again) after a backoff or the registry's Retry-After, within
 * `resumes` (default: the transport's `--retries`); the error then says how many attempts were made.
 * A failure of the source itself (a cut read, content that does not verify) is not retried here: it
 * is thrown as the source's error, for the caller to fetch again. The registry verifies the digest on
 * the closing PUT, and the source stream is verified too, so a corrupt blob is never committed.
 */
export async function pushBlob(client: RegistryClient, repo: string, desc: Descriptor, open: BlobOpener, opts: UploadOptions = {}): Promise<UploadOutcome> {
  const what = `upload ${desc.digest} to ${client.registry}/${repo}`;
  const policy = client.transport.retryPolicy;
  const tries: Attempts = { n: 0, max: 1 + Math.max(0, opts.resumes ?? policy.retries) };
  for (;;) {
    tries.n++;
    const opened: Readable[] = [];
    const tracked: BlobOpener = async () => {
      const s = await open();
      opened.push(s);
      return s;
    };
    try {
      return await uploadOnce(client, repo, desc, tracked, opts, tries, what);
    } catch (e) {
      const fault = opened.map(sourceFaultOf).find((f) => f !== undefined);
      // Nothing the source opened stays open (a connection nobody reads keeps the pool from closing).
      for (const s of opened) s.destroy();
      if (fault) throw fault;
      const info = again.get(e as object);
      if (!info || tries.n >= tries.max) throw afterAttempts(e, tries.n);
      // A commit whose answer was lost: the blob may be there already.
      if (info.maybeCommitted && (await client.hasBlob(repo, desc.digest, true).catch(() => false))) return 'uploaded';
      const delayMs = info.retryAfterMs !== undefined ? Math.min(info.retryAfterMs, policy.maxDelayMs) : backoffMs(tries.n - 1, policy);
      client.transport.noteRetry({ url: `${client.registry}/v2/${repo}/blobs/uploads/ (${desc.digest})`, attempt: tries.n, delayMs, reason: reasonOf(e) });
      await sleep(delayMs, opts.signal);
    }
  }
}

function reasonOf(e: unknown): string {
  if (e instanceof AirlockError && e.status) return `HTTP ${e.status}`;
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string' && c !== 'NETWORK' && c !== 'UND_ERR') return c;
    cur = (cur as { cause?: unknown }).cause;
  }
  return (e as Error)?.message ?? String(e);
}

/** One attempt: a new upload session (or a mount), then the bytes by the chosen strategy. */
async function uploadOnce(client: RegistryClient, repo: string, desc: Descriptor, open: BlobOpener, opts: UploadOptions, tries: Attempts, what: string): Promise<UploadOutcome> {
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
    try {
      const res = await sendOnce(
        client,
        repo,
        {
          method: 'PUT',
          path: putUrl(location, desc.digest),
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
          body: () => body,
          signal: opts.signal,
        },
        what,
        (s) => s === 201,
        true,
      );
      await drain(res.body);
    } finally {
      body.destroy();
    }
    return 'uploaded';
  }

  // Streamed PATCH, resumed from the registry's offset when the connection drops.
  let offset = 0;
  for (;;) {
    const body = skipBytes(await open(), offset);
    let res: HttpResponse;
    try {
      res = await sendOnce(
        client,
        repo,
        {
          method: 'PATCH',
          path: location,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(desc.size - offset),
            ...(offset > 0 ? { 'content-range': `${offset}-${desc.size - 1}` } : {}),
          },
          body: () => body,
          signal: opts.signal,
        },
        what,
        (s) => s === 202,
      );
    } catch (e) {
      body.destroy();
      // Only a dropped connection or a transient answer can be resumed; the source's own failure is
      // judged by pushBlob, and the last attempt ends here.
      if (!again.has(e as object) || tries.n >= tries.max) throw e;
      const status = await uploadStatus(client, repo, location);
      // The session is gone: start the blob again from nothing (a new attempt in pushBlob).
      if (!status) throw e;
      tries.n++;
      client.transport.noteRetry({ url: location.split('?')[0]!, attempt: tries.n - 1, delayMs: 0, reason: `${reasonOf(e)}; resuming at byte ${status.offset}` });
      location = status.location;
      offset = status.offset;
      continue;
    }
    body.destroy();
    await drain(res.body);
    location = client.transport.absolute(client.host, header(res.headers, 'location') ?? location);
    break;
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
  if (done.status === 201) {
    await drain(done.body);
    return;
  }
  const err = await responseError(done, what);
  // A retried PUT whose first try committed is answered "upload unknown": the blob is there.
  if (done.attempts && done.attempts > 1 && (await client.hasBlob(repo, desc.digest, true).catch(() => false))) return;
  throw damagedOnTheWay(err) ? retryable(err) : err;
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
    if (res.status !== 202) {
      const err = await responseError(res, what);
      // 416 after a retried chunk: the first try arrived after all, and the session's offset is
      // unknown; a new session (pushBlob's next attempt) is the safe way on.
      throw res.status === 416 && (res.attempts ?? 1) > 1 ? retryable(err) : err;
    }
    await drain(res.body);
    location = client.transport.absolute(client.host, header(res.headers, 'location') ?? location);
    offset += chunk.length;
  }
  await closeUpload(client, repo, location, desc, what);
}
