import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawRequest } from './net.js';

/**
 * A small in-memory OCI distribution server (distribution-spec v1.1) on a loopback port, for tests
 * that need a registry with the referrers API (docker-registry 2.8 has none) or one that can be made
 * to misbehave. It implements:
 *
 * - `GET /v2/`
 * - `HEAD|GET|PUT /v2/<name>/manifests/<tag|digest>` (Docker-Content-Digest; PUT checks that the
 *   referenced blobs/manifests exist, verifies a digest reference, answers `OCI-Subject` when the
 *   manifest has a subject and the referrers API is on)
 * - `HEAD|GET /v2/<name>/blobs/<digest>`
 * - uploads: `POST /v2/<name>/blobs/uploads/` (session, monolithic `?digest=`, `?mount=&from=`),
 *   `PATCH` (Content-Range checked, 416 when out of order), `PUT ?digest=`, `GET` status, `DELETE`
 * - `GET /v2/<name>/tags/list` (`n`/`last` pagination with a `Link` header)
 * - `GET /v2/<name>/referrers/<digest>[?artifactType=]` (an OCI index; `OCI-Filters-Applied`)
 *
 * Content is held per repository; `seedBlob`/`seedManifest` store bytes directly (even under a
 * digest they do not hash to, to simulate a corrupt registry), and `hook` lets a test answer any
 * request itself (truncate, reset, rewrite).
 */

export type Digest = `${string}:${string}`;

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
}

export function sha256(bytes: Buffer | string): `sha256:${string}` {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function hex(d: string): string {
  return d.slice(d.indexOf(':') + 1);
}

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

interface Repo {
  blobs: Set<string>;
  manifests: Map<string, StoredManifest>;
  tags: Map<string, string>;
}

interface Session {
  repo: string;
  parts: Buffer[];
  size: number;
}

export interface RequestRecord {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A test's own answer to a request: return true when it has responded (or destroyed the socket). */
export type OciHook = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface OciServerOptions {
  /** Serve the referrers API (default true). Off, the endpoint answers 404 like distribution 2.8. */
  referrersApi?: boolean;
  /** Sent as OCI-Chunk-Min-Length on upload session creation. */
  chunkMinLength?: number;
  hook?: OciHook;
}

export interface OciServer {
  /** "127.0.0.1:PORT" */
  host: string;
  /** "http://127.0.0.1:PORT" */
  url: string;
  /** Every request received, in order. */
  requests: RequestRecord[];
  /** Replaceable at any time. */
  hook: OciHook | undefined;
  seedBlob(repo: string, bytes: Buffer, digest?: Digest): Digest;
  seedManifest(repo: string, bytes: Buffer, mediaType: string, tag?: string, digest?: Digest): Digest;
  hasBlob(repo: string, digest: string): boolean;
  /** The bytes served for a blob of `repo` (as seeded: possibly not matching the digest). */
  blobBytes(repo: string, digest: string): Buffer | undefined;
  manifest(repo: string, reference: string): StoredManifest | undefined;
  tags(repo: string): string[];
  /** What GET /v2/<repo>/referrers/<digest> would list. */
  referrers(repo: string, digest: string): Descriptor[];
  close(): Promise<void>;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message }] });
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface ParsedManifest {
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export async function startOciServer(opts: OciServerOptions = {}): Promise<OciServer> {
  const referrersApi = opts.referrersApi ?? true;
  const content = new Map<string, Buffer>();
  const repos = new Map<string, Repo>();
  const sessions = new Map<string, Session>();
  const requests: RequestRecord[] = [];

  const repoOf = (name: string, create = false): Repo | undefined => {
    let r = repos.get(name);
    if (!r && create) {
      r = { blobs: new Set(), manifests: new Map(), tags: new Map() };
      repos.set(name, r);
    }
    return r;
  };

  const lookup = (name: string, ref: string): StoredManifest | undefined => {
    const r = repoOf(name);
    if (!r) return undefined;
    const digest = DIGEST_RE.test(ref) ? ref : r.tags.get(ref);
    return digest ? r.manifests.get(digest) : undefined;
  };

  const referrersOf = (name: string, digest: string): Descriptor[] => {
    const r = repoOf(name);
    if (!r) return [];
    const out: Descriptor[] = [];
    for (const m of r.manifests.values()) {
      let j: ParsedManifest;
      try {
        j = JSON.parse(m.bytes.toString('utf8')) as ParsedManifest;
      } catch {
        continue;
      }
      if (j.subject?.digest !== digest) continue;
      // distribution-spec: artifactType, else (image manifests) the config's media type.
      const artifactType = j.artifactType ?? j.config?.mediaType;
      out.push({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.bytes.length,
        ...(artifactType ? { artifactType } : {}),
        ...(j.annotations ? { annotations: j.annotations } : {}),
      });
    }
    return out;
  };

  const storeManifest = (name: string, bytes: Buffer, mediaType: string, tag: string | undefined, digest: Digest): void => {
    const r = repoOf(name, true)!;
    r.manifests.set(digest, { bytes, mediaType, digest });
    if (tag) r.tags.set(tag, digest);
  };

  const addBlob = (name: string, bytes: Buffer, digest: Digest): void => {
    content.set(digest, bytes);
    repoOf(name, true)!.blobs.add(digest);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (server.hook && (await server.hook(req, res, url))) return;
    const method = req.method ?? 'GET';
    const p = url.pathname;
    const send = (status: number, headers: Record<string, string | number> = {}, body?: Buffer | string) => {
      const b = body === undefined ? undefined : Buffer.from(body);
      res.writeHead(status, { 'docker-distribution-api-version': 'registry/2.0', ...(b ? { 'content-length': b.length } : { 'content-length': 0 }), ...headers });
      res.end(method === 'HEAD' ? undefined : b);
    };
    const fail = (status: number, code: string, message: string) => send(status, { 'content-type': 'application/json' }, errorBody(code, message));

    if (p === '/v2/' || p === '/v2') {
      await readBody(req);
      send(200, { 'content-type': 'application/json' }, '{}');
      return;
    }
    let m: RegExpExecArray | null;

    // Uploads first: their paths also contain /blobs/.
    if ((m = /^\/v2\/(.+?)\/blobs\/uploads\/([^/]*)$/.exec(p))) {
      const name = m[1]!;
      const id = m[2]!;
      const body = await readBody(req);
      if (method === 'POST' && id === '') {
        const mount = url.searchParams.get('mount');
        const from = url.searchParams.get('from');
        if (mount && from && repoOf(from)?.blobs.has(mount)) {
          repoOf(name, true)!.blobs.add(mount);
          send(201, { location: `/v2/${name}/blobs/${mount}`, 'docker-content-digest': mount });
          return;
        }
        const digest = url.searchParams.get('digest');
        if (digest && !mount) {
          if (sha256(body) !== digest) return fail(400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
          addBlob(name, body, digest as Digest);
          send(201, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
          return;
        }
        const uuid = randomUUID();
        sessions.set(uuid, { repo: name, parts: [], size: 0 });
        send(202, {
          location: `/v2/${name}/blobs/uploads/${uuid}`,
          'docker-upload-uuid': uuid,
          range: '0-0',
          ...(opts.chunkMinLength ? { 'oci-chunk-min-length': opts.chunkMinLength } : {}),
        });
        return;
      }
      const s = sessions.get(id);
      if (!s || s.repo !== name) return fail(404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry');
      const progress = () => ({
        location: `/v2/${name}/blobs/uploads/${id}`,
        'docker-upload-uuid': id,
        // distribution-spec: inclusive end; an empty session has no range to report.
        ...(s.size > 0 ? { range: `0-${s.size - 1}` } : {}),
      });
      if (method === 'GET' || method === 'HEAD') return send(204, progress());
      if (method === 'DELETE') {
        sessions.delete(id);
        return send(204);
      }
      if (method === 'PATCH') {
        const cr = req.headers['content-range'];
        if (typeof cr === 'string') {
          const r = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(cr);
          if (!r || Number(r[1]) !== s.size) return send(416, progress(), errorBody('BLOB_UPLOAD_INVALID', `range ${cr} does not continue at ${s.size}`));
        }
        s.parts.push(body);
        s.size += body.length;
        return send(202, progress());
      }
      if (method === 'PUT') {
        const digest = url.searchParams.get('digest');
        if (!digest || !DIGEST_RE.test(digest)) return fail(400, 'DIGEST_INVALID', 'digest missing or invalid');
        s.parts.push(body);
        const all = Buffer.concat(s.parts);
        if (sha256(all) !== digest) return fail(400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
        sessions.delete(id);
        addBlob(name, all, digest as Digest);
        return send(201, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
      }
      return fail(405, 'UNSUPPORTED', `${method} not supported on uploads`);
    }

    if ((m = /^\/v2\/(.+?)\/tags\/list$/.exec(p))) {
      await readBody(req);
      const r = repoOf(m[1]!);
      if (!r) return fail(404, 'NAME_UNKNOWN', 'repository name not known to registry');
      let tags = [...r.tags.keys()].sort();
      const last = url.searchParams.get('last');
      if (last) tags = tags.filter((t) => t > last);
      const n = Number(url.searchParams.get('n') ?? '0');
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (n > 0 && tags.length > n) {
        tags = tags.slice(0, n);
        headers.link = `</v2/${m[1]}/tags/list?n=${n}&last=${encodeURIComponent(tags[tags.length - 1]!)}>; rel="next"`;
      }
      return send(200, headers, JSON.stringify({ name: m[1], tags }));
    }

    if ((m = /^\/v2\/(.+?)\/referrers\/([^/]+)$/.exec(p))) {
      await readBody(req);
      if (!referrersApi || method !== 'GET') return fail(404, 'NOT_FOUND', 'page not found');
      const digest = m[2]!;
      if (!DIGEST_RE.test(digest)) return fail(400, 'DIGEST_INVALID', 'invalid digest');
      let list = referrersOf(m[1]!, digest);
      const at = url.searchParams.get('artifactType');
      const headers: Record<string, string> = { 'content-type': OCI_INDEX };
      if (at) {
        list = list.filter((d) => d.artifactType === at);
        headers['oci-filters-applied'] = 'artifactType';
      }
      return send(200, headers, JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: list }));
    }

    if ((m = /^\/v2\/(.+?)\/manifests\/([^/]+)$/.exec(p))) {
      const name = m[1]!;
      const ref = m[2]!;
      const body = await readBody(req);
      if (method === 'GET' || method === 'HEAD') {
        const sm = lookup(name, ref);
        if (!sm) return fail(404, 'MANIFEST_UNKNOWN', 'manifest unknown');
        return send(200, { 'content-type': sm.mediaType, 'docker-content-digest': sm.digest }, sm.bytes);
      }
      if (method === 'PUT') {
        const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        let j: ParsedManifest;
        try {
          j = JSON.parse(body.toString('utf8')) as ParsedManifest;
        } catch {
          return fail(400, 'MANIFEST_INVALID', 'manifest invalid');
        }
        if (j.mediaType && j.mediaType !== mediaType) return fail(400, 'MANIFEST_INVALID', 'mediaType does not match Content-Type');
        const digest = sha256(body);
        if (DIGEST_RE.test(ref) && ref !== digest) return fail(400, 'DIGEST_INVALID', 'manifest digest did not match');
        const r = repoOf(name, true)!;
        // Everything a manifest references must already be there (push order: blobs, children, parent).
        for (const d of [...(j.config ? [j.config] : []), ...(j.layers ?? [])]) {
          if (!r.blobs.has(d.digest)) return fail(400, 'MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${d.digest}`);
        }
        for (const d of j.manifests ?? []) {
          if (!r.manifests.has(d.digest)) return fail(400, 'MANIFEST_UNKNOWN', `manifest unknown: ${d.digest}`);
        }
        storeManifest(name, body, mediaType, DIGEST_RE.test(ref) ? undefined : ref, digest);
        return send(201, {
          location: `/v2/${name}/manifests/${digest}`,
          'docker-content-digest': digest,
          ...(j.subject && referrersApi ? { 'oci-subject': j.subject.digest } : {}),
        });
      }
      return fail(405, 'UNSUPPORTED', `${method} not supported on manifests`);
    }

    if ((m = /^\/v2\/(.+?)\/blobs\/([^/]+)$/.exec(p))) {
      await readBody(req);
      const digest = m[2]!;
      const r = repoOf(m[1]!);
      const bytes = r?.blobs.has(digest) ? content.get(digest) : undefined;
      if (!bytes) return fail(404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      return send(200, { 'content-type': 'application/octet-stream', 'docker-content-digest': digest }, bytes);
    }

    await readBody(req);
    fail(404, 'NOT_FOUND', 'page not found');
  };

  const httpServer = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(errorBody('UNKNOWN', String(err)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const server: OciServer = {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    hook: opts.hook,
    seedBlob(repo, bytes, digest) {
      const d = digest ?? sha256(bytes);
      addBlob(repo, bytes, d);
      return d;
    },
    seedManifest(repo, bytes, mediaType, tag, digest) {
      const d = digest ?? sha256(bytes);
      storeManifest(repo, bytes, mediaType, tag, d);
      return d;
    },
    hasBlob: (repo, digest) => repoOf(repo)?.blobs.has(digest) ?? false,
    blobBytes: (repo, digest) => (repoOf(repo)?.blobs.has(digest) ? content.get(digest) : undefined),
    manifest: (repo, reference) => lookup(repo, reference),
    tags: (repo) => [...(repoOf(repo)?.tags.keys() ?? [])].sort(),
    referrers: (repo, digest) => referrersOf(repo, digest),
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  };
  return server;
}

// ---------------------------------------------------------------------------------------------
// Content builders and a push client independent of the library under test.

export interface Blob {
  bytes: Buffer;
  desc: Descriptor;
}

export interface BuiltManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
  desc: Descriptor;
  blobs: Blob[];
}

export function blobOf(bytes: Buffer, mediaType: string): Blob {
  return { bytes, desc: { mediaType, digest: sha256(bytes), size: bytes.length } };
}

function manifestOf(json: object, mediaType: string, blobs: Blob[], extra: Partial<Descriptor> = {}): BuiltManifest {
  const bytes = Buffer.from(JSON.stringify(json));
  const digest = sha256(bytes);
  return { bytes, mediaType, digest, desc: { mediaType, digest, size: bytes.length, ...extra }, blobs };
}

/** A tiny OCI image: a config and `layers` layers of pseudo-random bytes derived from `seed`. */
export function buildImage(seed: string, opts: { layers?: number; layerSize?: number; platform?: { os: string; architecture: string } } = {}): BuiltManifest {
  const layers: Blob[] = [];
  for (let i = 0; i < (opts.layers ?? 1); i++) layers.push(blobOf(pseudoRandom(`${seed}/layer/${i}`, opts.layerSize ?? 2048), OCI_LAYER));
  const config = blobOf(
    Buffer.from(JSON.stringify({ architecture: opts.platform?.architecture ?? 'amd64', os: opts.platform?.os ?? 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.desc.digest) }, seed })),
    OCI_CONFIG,
  );
  return manifestOf(
    { schemaVersion: 2, mediaType: OCI_MANIFEST, config: config.desc, layers: layers.map((l) => l.desc) },
    OCI_MANIFEST,
    [config, ...layers],
    opts.platform ? { platform: opts.platform } : {},
  );
}

/** An OCI index of the given manifests (children's blobs are not included in `blobs`). */
export function buildIndex(children: BuiltManifest[]): BuiltManifest {
  return manifestOf({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((c) => c.desc) }, OCI_INDEX, []);
}

/** An OCI 1.1 artifact manifest (empty config, one layer) referring to `subject`. */
export function buildArtifact(subject: Descriptor | undefined, artifactType: string, payload: string, annotations?: Record<string, string>): BuiltManifest {
  const empty = blobOf(Buffer.from('{}'), OCI_EMPTY);
  const layer = blobOf(Buffer.from(payload), `${artifactType}.layer`);
  const json = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: empty.desc,
    layers: [layer.desc],
    ...(subject ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } } : {}),
    ...(annotations ? { annotations } : {}),
  };
  return manifestOf(json, OCI_MANIFEST, [empty, layer], { artifactType });
}

/** A cosign-style tag attachment (simple signing payload layer) for `subject`. */
export function buildCosignAttachment(subject: Digest, kind: 'sig' | 'att', seed: string): BuiltManifest {
  const config = blobOf(Buffer.from(JSON.stringify({ architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] }, seed })), OCI_CONFIG);
  const payload = kind === 'sig'
    ? JSON.stringify({ critical: { identity: { 'docker-reference': 'x' }, image: { 'docker-manifest-digest': subject }, type: 'cosign container image signature' }, optional: { seed } })
    : JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: Buffer.from(seed).toString('base64'), signatures: [] });
  const mt = kind === 'sig' ? 'application/vnd.dev.cosign.simplesigning.v1+json' : 'application/vnd.dsse.envelope.v1+json';
  const layer = blobOf(Buffer.from(payload), mt);
  const annotations = kind === 'sig' ? { 'dev.cosignproject.cosign/signature': Buffer.from(`sig-${seed}`).toString('base64') } : { predicateType: 'https://slsa.dev/provenance/v1' };
  return manifestOf(
    { schemaVersion: 2, mediaType: OCI_MANIFEST, config: config.desc, layers: [{ ...layer.desc, annotations }] },
    OCI_MANIFEST,
    [config, layer],
  );
}

/** Deterministic bytes (sha256 counter mode). */
export function pseudoRandom(seed: string, size: number): Buffer {
  const out = Buffer.alloc(Math.floor(size));
  for (let off = 0, i = 0; off < out.length; i++) {
    const h = createHash('sha256').update(`${seed}:${i}`).digest();
    off += h.copy(out, off);
  }
  return out;
}

/**
 * Push blobs and a manifest over plain HTTP (monolithic POST + PUT), without the library under
 * test, to any distribution API (the in-memory server or a real docker-registry). Returns the
 * digest the registry answered.
 */
export async function pushRaw(baseUrl: string, repo: string, m: BuiltManifest, tag?: string): Promise<string> {
  for (const b of m.blobs) {
    const head = await rawRequest(`${baseUrl}/v2/${repo}/blobs/${b.desc.digest}`, { method: 'HEAD' });
    if (head.status === 200) continue;
    const start = await rawRequest(`${baseUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
    if (start.status !== 202) throw new Error(`POST upload to ${baseUrl}/${repo}: HTTP ${start.status} ${start.body.toString()}`);
    const loc = new URL(String(start.headers.location), `${baseUrl}/`);
    loc.searchParams.set('digest', b.desc.digest);
    const put = await rawRequest(loc.toString(), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.bytes.length) },
      body: b.bytes,
    });
    if (put.status !== 201) throw new Error(`PUT blob to ${baseUrl}/${repo}: HTTP ${put.status} ${put.body.toString()}`);
  }
  const res = await rawRequest(`${baseUrl}/v2/${repo}/manifests/${tag ?? m.digest}`, {
    method: 'PUT',
    headers: { 'content-type': m.mediaType },
    body: m.bytes,
  });
  if (res.status !== 201) throw new Error(`PUT manifest to ${baseUrl}/${repo}: HTTP ${res.status} ${res.body.toString()}`);
  return String(res.headers['docker-content-digest']);
}

/** HEAD a manifest or blob: the status and Docker-Content-Digest. */
export async function headRaw(baseUrl: string, repo: string, kind: 'manifests' | 'blobs', reference: string): Promise<{ status: number; digest?: string }> {
  const res = await rawRequest(`${baseUrl}/v2/${repo}/${kind}/${reference}`, {
    method: 'HEAD',
    headers: { accept: [OCI_INDEX, OCI_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ') },
  });
  const d = res.headers['docker-content-digest'];
  return { status: res.status, ...(typeof d === 'string' ? { digest: d } : {}) };
}

/** GET a manifest's exact bytes (undefined when absent). */
export async function getManifestRaw(baseUrl: string, repo: string, reference: string): Promise<{ bytes: Buffer; mediaType: string; digest: string } | undefined> {
  const res = await rawRequest(`${baseUrl}/v2/${repo}/manifests/${reference}`, {
    headers: { accept: [OCI_INDEX, OCI_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ') },
  });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET manifest ${reference}: HTTP ${res.status}`);
  return { bytes: res.body, mediaType: String(res.headers['content-type']), digest: sha256(res.body) };
}

/** GET a blob's bytes (undefined when absent). */
export async function getBlobRaw(baseUrl: string, repo: string, digest: string): Promise<Buffer | undefined> {
  const res = await rawRequest(`${baseUrl}/v2/${repo}/blobs/${digest}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET blob ${digest}: HTTP ${res.status}`);
  return res.body;
}

/** All tags of a repository ([] when unknown). */
export async function listTagsRaw(baseUrl: string, repo: string): Promise<string[]> {
  const res = await rawRequest(`${baseUrl}/v2/${repo}/tags/list`);
  if (res.status === 404) return [];
  return ((JSON.parse(res.body.toString('utf8')) as { tags?: string[] | null }).tags ?? []).slice().sort();
}
