import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawRequest } from './net.js';

/**
 * Small images pushed straight over the registry API (no skopeo), with a chosen config `created`,
 * and a loopback proxy that counts every request by kind and can answer 429 + Retry-After first.
 */

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(url: string, repo: string, blob: Buffer): Promise<string> {
  const digest = sha(blob);
  const head = await rawRequest(`${url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.status === 200) return digest;
  const start = await rawRequest(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' } });
  if (start.status !== 202) throw new Error(`upload start: ${start.status}`);
  const loc = new URL(String(start.headers.location), url);
  loc.searchParams.set('digest', digest);
  const put = await rawRequest(loc.toString(), { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) } });
  if (put.status !== 201) throw new Error(`upload: ${put.status} ${put.body.toString()}`);
  return digest;
}

export interface PushedImage {
  digest: string;
  /** Digests and sizes of config and layers. */
  blobs: Array<{ digest: string; size: number }>;
}

/** Push a one-platform OCI image whose layers are the given bytes (any bytes: registries do not unpack). */
export async function pushImage(url: string, repo: string, tag: string, o: { layers: Buffer[]; created?: string; note?: string }): Promise<PushedImage> {
  const layerDescs = [];
  for (const l of o.layers) layerDescs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await pushBlob(url, repo, l), size: l.length });
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', ...(o.created ? { created: o.created } : {}), config: { Labels: { note: o.note ?? tag } }, rootfs: { type: 'layers', diff_ids: layerDescs.map((d) => d.digest) } }),
  );
  const configDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(url, repo, config), size: config.length };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers: layerDescs }));
  const put = await rawRequest(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  if (put.status !== 201) throw new Error(`manifest ${repo}:${tag}: ${put.status} ${put.body.toString()}`);
  return { digest: sha(manifest), blobs: [configDesc, ...layerDescs].map((d) => ({ digest: d.digest, size: d.size })) };
}

/** Push a cosign-style signature manifest at sha256-<hex>.sig for `digest`. */
export async function pushSignature(url: string, repo: string, digest: string, payload = 'signature'): Promise<PushedImage> {
  return pushImage(url, repo, `sha256-${digest.slice(7)}.sig`, { layers: [Buffer.from(`${payload} for ${digest}`)], note: 'sig' });
}

/** The digest a tag points at, or undefined. */
export async function tagDigest(url: string, repo: string, tag: string): Promise<string | undefined> {
  const r = await rawRequest(`${url}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
  });
  return r.status === 200 ? String(r.headers['docker-content-digest']) : undefined;
}

export async function listTags(url: string, repo: string): Promise<string[]> {
  const r = await rawRequest(`${url}/v2/${repo}/tags/list`);
  if (r.status === 404) return [];
  return ((JSON.parse(r.body.toString()) as { tags: string[] | null }).tags ?? []).sort();
}

export interface ProxyRequest {
  method: string;
  path: string;
  status: number;
}

export interface CountingProxy {
  host: string;
  url: string;
  requests: ProxyRequest[];
  /** Requests by kind, e.g. "HEAD manifest 200", "PUT upload 201", "GET tags 200". */
  kinds(from?: number): Record<string, number>;
  /** How many requests were answered 429 by the proxy itself. */
  throttled: number;
  close(): Promise<void>;
}

export function kindOf(method: string, p: string): string {
  if (p === '/v2/' || p === '/v2') return 'ping';
  if (/\/blobs\/uploads\/?(\?|$)/.test(p)) return /mount=/.test(p) ? 'upload-start(mount)' : 'upload-start';
  if (/\/blobs\/uploads\/[^/?]+/.test(p)) return 'upload';
  if (/\/blobs\/sha/.test(p)) return 'blob';
  if (/\/manifests\//.test(p)) return 'manifest';
  if (/\/tags\/list/.test(p)) return 'tags';
  if (/\/referrers\//.test(p)) return 'referrers';
  return 'other';
}

/**
 * A loopback reverse proxy in front of a registry that records every request. With `throttle: N`,
 * the first N registry requests (not the /v2/ ping) are answered `429 Too Many Requests` with
 * `Retry-After: 1` instead of being forwarded.
 */
export async function startCountingProxy(target: string, opts: { throttle?: number } = {}): Promise<CountingProxy> {
  const [thost, tport] = target.split(':');
  const requests: ProxyRequest[] = [];
  let toThrottle = opts.throttle ?? 0;
  const agent = new http.Agent({ keepAlive: true });
  const state = { throttled: 0 };
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const record = (status: number) => requests.push({ method: req.method ?? 'GET', path, status });
    if (toThrottle > 0 && kindOf(req.method ?? 'GET', path) !== 'ping') {
      toThrottle--;
      state.throttled++;
      req.resume();
      req.on('end', () => {
        record(429);
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
      });
      return;
    }
    const up = http.request({ host: thost, port: Number(tport), method: req.method, path, headers: req.headers, agent }, (ur) => {
      record(ur.statusCode ?? 0);
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', (e) => {
      record(502);
      res.writeHead(502).end(String(e));
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    get throttled() {
      return state.throttled;
    },
    kinds(from = 0) {
      const out: Record<string, number> = {};
      for (const r of requests.slice(from)) {
        const k = `${r.method} ${kindOf(r.method, r.path)} ${r.status}`;
        out[k] = (out[k] ?? 0) + 1;
      }
      return out;
    },
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Push an OCI index of one-layer images, one per platform ("os/arch"); returns the index and child digests. */
export async function pushIndex(url: string, repo: string, tag: string, platforms: string[], seed: string): Promise<{ digest: string; children: Record<string, string> }> {
  const children: Record<string, string> = {};
  const manifests = [];
  for (const p of platforms) {
    const [os, architecture] = p.split('/');
    const img = await pushImage(url, repo, `${tag}-${os}-${architecture}`, { layers: [Buffer.from(`${seed} ${p}`.repeat(200))], note: `${seed} ${p}` });
    children[p] = img.digest;
    const size = (await rawRequest(`${url}/v2/${repo}/manifests/${img.digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).body.length;
    manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: img.digest, size, platform: { os, architecture } });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const put = await rawRequest(`${url}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: index, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } });
  if (put.status !== 201) throw new Error(`index ${repo}:${tag}: ${put.status} ${put.body.toString()}`);
  return { digest: sha(index), children };
}
