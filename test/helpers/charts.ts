import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { parse as parseYaml } from 'yaml';
import { tarBytes } from './tar.js';

/** A chart as `helm package` writes it: NAME/Chart.yaml, values.yaml, templates/… in a .tgz. */
export interface ChartInput {
  name: string;
  version: string;
  appVersion?: string;
  description?: string;
  /** Extra Chart.yaml text appended verbatim (annotations, maintainers, sources…). */
  chartYamlExtra?: string;
  valuesYaml?: string;
  templates?: Record<string, string>;
  /** Packed subcharts: charts/<file>. */
  subcharts?: Record<string, Buffer>;
}

export function chartYaml(c: ChartInput): string {
  return [
    'apiVersion: v2',
    `name: ${c.name}`,
    `description: ${c.description ?? 'A Helm chart for Kubernetes'}`,
    'type: application',
    `version: ${c.version}`,
    ...(c.appVersion ? [`appVersion: "${c.appVersion}"`] : []),
    ...(c.chartYamlExtra ? [c.chartYamlExtra.trimEnd()] : []),
    '',
  ].join('\n');
}

export async function buildChart(c: ChartInput): Promise<Buffer> {
  const entries = [
    { name: `${c.name}/Chart.yaml`, data: chartYaml(c) },
    { name: `${c.name}/values.yaml`, data: c.valuesYaml ?? 'replicaCount: 1\n' },
    ...Object.entries(c.templates ?? { 'deployment.yaml': 'kind: Deployment\n' }).map(([f, t]) => ({ name: `${c.name}/templates/${f}`, data: t })),
    ...Object.entries(c.subcharts ?? {}).map(([f, b]) => ({ name: `${c.name}/charts/${f}`, data: b })),
  ];
  return tarBytes(entries, { gzip: true });
}

export const sha256hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** index.yaml as `helm repo index` writes it (keys sorted, times quoted, newest version first). */
export function helmIndexYaml(charts: { c: ChartInput; tgz: Buffer; url?: string; digest?: string }[]): string {
  const created = '2024-05-01T10:00:00.123456789Z';
  const byName = new Map<string, typeof charts>();
  for (const x of charts) byName.set(x.c.name, [...(byName.get(x.c.name) ?? []), x]);
  const lines = ['apiVersion: v1', 'entries:'];
  for (const [name, list] of [...byName].sort()) {
    lines.push(`  ${name}:`);
    for (const { c, tgz, url, digest } of list) {
      lines.push('  - apiVersion: v2');
      if (c.appVersion) lines.push(`    appVersion: ${c.appVersion}`);
      lines.push(`    created: "${created}"`, `    description: ${c.description ?? 'A Helm chart for Kubernetes'}`, `    digest: ${digest ?? sha256hex(tgz)}`, `    name: ${c.name}`, '    type: application', '    urls:', `    - ${url ?? `${c.name}-${c.version}.tgz`}`, `    version: ${c.version}`);
    }
  }
  lines.push(`generated: "${created}"`, '');
  return lines.join('\n');
}

function basicOk(req: http.IncomingMessage, auth?: { user: string; password: string }): boolean {
  if (!auth) return true;
  return req.headers.authorization === `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
}

export interface TestServer {
  url: string;
  host: string;
  requests: { method: string; url: string; authorization?: string }[];
  close(): Promise<void>;
}

async function listen(server: http.Server, requests: TestServer['requests']): Promise<TestServer> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A static file server (what serves an HTTP chart repository), optionally behind Basic auth. */
export function startStaticServer(root: string, opts: { auth?: { user: string; password: string } } = {}): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (!basicOk(req, opts.auth)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="charts"' }).end('unauthorized');
      return;
    }
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(root, path.normalize(rel).replace(/^(\.\.[/\\])+/, ''));
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-type': file.endsWith('.yaml') ? 'text/yaml' : 'application/octet-stream' }).end(readFileSync(file));
    } catch {
      res.writeHead(404).end('404 page not found');
    }
  });
  return listen(server, requests);
}

async function chartNameVersion(tgz: Buffer): Promise<{ name: string; version: string }> {
  const tar = gunzipSync(tgz);
  const ex = extract();
  let meta: { name: string; version: string } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (/^[^/]+\/Chart\.yaml$/.test(h.name)) meta = parseYaml(Buffer.concat(chunks).toString()) as { name: string; version: string };
        next();
      });
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  Readable.from([tar]).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  if (!meta) throw new Error('no Chart.yaml');
  return meta;
}

/** The fields of a multipart/form-data body, by name. */
function multipartFields(body: Buffer, contentType: string): Map<string, Buffer> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  const b = `--${boundary?.[1] ?? boundary?.[2]}`;
  const out = new Map<string, Buffer>();
  let pos = body.indexOf(b);
  while (pos >= 0) {
    const start = pos + b.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', start);
    const headers = body.subarray(start, headerEnd).toString();
    const next = body.indexOf(`\r\n${b}`, headerEnd);
    const name = /name="([^"]+)"/.exec(headers)?.[1];
    if (name) out.set(name, body.subarray(headerEnd + 4, next));
    pos = next + 2;
  }
  return out;
}

export interface MuseumServer extends TestServer {
  charts: Map<string, { tgz: Buffer; prov?: Buffer }>;
}

/**
 * A ChartMuseum-compatible server replaying ChartMuseum's documented API: `POST /api/charts` (raw
 * body, or multipart fields `chart` and `prov`) answers `201 {"saved":true}`, or `409
 * {"error":"file already exists"}` for an existing version; `GET /api/charts/NAME/VERSION`
 * describes a stored version (with its `digest`); Basic auth answers `401 {"error":"unauthorized"}`.
 */
export async function startMuseum(opts: { auth?: { user: string; password: string } } = {}): Promise<MuseumServer> {
  const requests: TestServer['requests'] = [];
  const charts = new Map<string, { tgz: Buffer; prov?: Buffer }>();
  const json = (res: http.ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
        if (!basicOk(req, opts.auth)) return json(res, 401, { error: 'unauthorized' });
        const body = Buffer.concat(chunks);
        const url = req.url ?? '';
        if (req.method === 'POST' && url === '/api/charts') {
          const ct = req.headers['content-type'] ?? '';
          let tgz: Buffer = body;
          let prov: Buffer | undefined;
          if (ct.startsWith('multipart/form-data')) {
            const f = multipartFields(body, ct);
            tgz = f.get('chart') ?? Buffer.alloc(0);
            prov = f.get('prov');
          }
          let meta;
          try {
            meta = await chartNameVersion(tgz);
          } catch {
            return json(res, 500, { error: 'could not parse chart' });
          }
          const key = `${meta.name}/${meta.version}`;
          if (charts.has(key)) return json(res, 409, { error: 'file already exists' });
          charts.set(key, { tgz, ...(prov ? { prov } : {}) });
          return json(res, 201, { saved: true });
        }
        const m = /^\/api\/charts\/([^/]+)\/([^/]+)$/.exec(url);
        if (req.method === 'GET' && m) {
          const name = decodeURIComponent(m[1]!);
          const version = decodeURIComponent(m[2]!);
          const c = charts.get(`${name}/${version}`);
          if (!c) return json(res, 404, { error: 'improper constraint: ' + version });
          return json(res, 200, { name, version, apiVersion: 'v2', urls: [`charts/${name}-${version}.tgz`], created: '2024-05-01T10:00:00Z', digest: sha256hex(c.tgz) });
        }
        return json(res, 404, { error: 'not found' });
      })();
    });
  });
  const s = await listen(server, requests);
  return { ...s, charts };
}
