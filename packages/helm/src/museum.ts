import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AirlockError, hexOf } from '@airlock/oci';
import { type ChartHttp, httpError, httpRequest } from './http.js';
import type { ResolvedChart } from './resolve.js';

/**
 * Upload to a ChartMuseum-compatible server: `POST BASE/api/charts` with the .tgz as the body, or
 * as multipart fields `chart` and `prov` when there is a provenance file. `201 {"saved":true}` is
 * success; `409` means the version exists, which is success when the stored chart is this one
 * (`GET BASE/api/charts/NAME/VERSION` gives its digest) and an error otherwise.
 */

export interface MuseumResult {
  url: string;
  status: 'uploaded' | 'exists';
}

const versionSchema = z.looseObject({ name: z.string().optional(), version: z.string().optional(), digest: z.string().optional() });

function multipart(fields: { name: string; filename: string; data: Buffer }[]): { body: Buffer; contentType: string } {
  const boundary = `airlock-${randomBytes(12).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const f of fields) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"; filename="${f.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`));
    parts.push(f.data, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

export async function pushChartMuseum(chart: ResolvedChart, baseUrl: string, http: ChartHttp): Promise<MuseumResult> {
  const base = baseUrl.replace(/\/+$/, '');
  const url = `${base}/api/charts`;
  const file = `${chart.name}-${chart.version}.tgz`;
  const { body, contentType } = chart.prov
    ? multipart([
        { name: 'chart', filename: file, data: chart.tgz },
        { name: 'prov', filename: `${file}.prov`, data: chart.prov },
      ])
    : { body: chart.tgz, contentType: 'application/gzip' };
  const what = `uploading ${chart.name} ${chart.version}`;
  const res = await httpRequest(http, 'POST', url, { limit: 1024 * 1024, what, body, headers: { 'content-type': contentType } });
  if (res.status === 201 || res.status === 200) return { url, status: 'uploaded' };
  if (res.status !== 409) throw httpError(what, url, res.status, res.body);
  // The version is there already: fine if it is this very chart.
  const infoUrl = `${base}/api/charts/${encodeURIComponent(chart.name)}/${encodeURIComponent(chart.version)}`;
  const info = await httpRequest(http, 'GET', infoUrl, { limit: 1024 * 1024, what: `checking the stored ${chart.name} ${chart.version}` });
  if (info.status !== 200) throw httpError(`checking the stored ${chart.name} ${chart.version}`, infoUrl, info.status, info.body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(info.body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const v = versionSchema.safeParse(parsed);
  const stored = v.success ? v.data.digest : undefined;
  if (stored === hexOf(chart.digest)) return { url, status: 'exists' };
  throw new AirlockError('DENIED', `${url} already holds ${chart.name} ${chart.version} with different content (digest ${stored ?? 'unknown'}, this one ${hexOf(chart.digest)})`, {
    hint: 'a published chart version must not change; bump the version (or allow overwrites on the server and delete it first)',
  });
}
