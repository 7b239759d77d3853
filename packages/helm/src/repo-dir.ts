import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { AirlockError, hexOf } from '@airlock/oci';
import type { ChartMetadata } from './metadata.js';
import type { ResolvedChart } from './resolve.js';

/**
 * A directory any web server can serve as a Helm chart repository: `NAME-VERSION.tgz` (and its
 * `.prov`) plus `index.yaml` updated as `helm repo index --merge` does — one entry per version,
 * newest first, `digest` the hex SHA-256 of the .tgz, keys sorted as Helm's YAML writer sorts them.
 */

const indexSchema = z.looseObject({
  apiVersion: z.string(),
  entries: z.record(z.string(), z.array(z.looseObject({ name: z.string(), version: z.union([z.string(), z.number()]).transform(String) })).nullable()).nullish(),
  generated: z.unknown().optional(),
});

async function atomicWrite(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new AirlockError('LAYOUT', `writing ${path} failed: ${(e as Error).message}`, { hint: 'check the directory exists and is writable', cause: e });
  }
}

/** A chart version entry as Helm writes it: the Chart.yaml fields plus urls, created, digest. */
export function indexEntry(m: ChartMetadata, file: string, digestHex: string, created: string): Record<string, unknown> {
  const e: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)) continue;
    if (k === 'deprecated' && v === false) continue;
    e[k] = v;
  }
  e.urls = [file];
  e.created = created;
  e.digest = digestHex;
  return e;
}

export interface RepoDirResult {
  /** Path of the .tgz written. */
  file: string;
  index: string;
  /** The index already listed this version with the same digest: nothing changed. */
  unchanged: boolean;
}

export async function writeChartToDir(chart: ResolvedChart, dir: string, opts: { now?: Date } = {}): Promise<RepoDirResult> {
  await mkdir(dir, { recursive: true });
  const fileName = `${chart.name}-${chart.version}.tgz`;
  const indexPath = join(dir, 'index.yaml');
  let existing: z.infer<typeof indexSchema> | undefined;
  let text: string | undefined;
  try {
    text = await readFile(indexPath, 'utf8');
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    let doc: unknown;
    try {
      doc = parseYaml(text, { maxAliasCount: 100 });
    } catch (e) {
      throw new AirlockError('BAD_INPUT', `${indexPath} is not valid YAML: ${(e as Error).message.split('\n')[0]}`, { hint: 'fix or remove it; it is rewritten with every chart added' });
    }
    const r = indexSchema.safeParse(doc);
    if (!r.success) throw new AirlockError('BAD_INPUT', `${indexPath} is not a chart repository index`, { hint: 'fix or remove it; it is rewritten with every chart added' });
    existing = r.data;
  }
  const hex = hexOf(chart.digest);
  const entries: Record<string, Record<string, unknown>[]> = {};
  for (const [name, list] of Object.entries(existing?.entries ?? {})) entries[name] = [...(list ?? [])];
  const same = entries[chart.name]?.find((e) => e.version === chart.version);
  if (same && same.digest !== undefined && same.digest !== hex) {
    throw new AirlockError('DENIED', `${indexPath} already lists ${chart.name} ${chart.version} with digest ${String(same.digest)}, not ${hex}`, {
      hint: 'a published chart version must not change; bump the version, or remove the old entry and file first',
    });
  }
  await atomicWrite(join(dir, fileName), chart.tgz);
  if (chart.prov) await atomicWrite(join(dir, `${fileName}.prov`), chart.prov);
  if (same) return { file: join(dir, fileName), index: indexPath, unchanged: true };
  const now = (opts.now ?? new Date()).toISOString();
  const list = (entries[chart.name] ?? []).filter((e) => e.version !== chart.version);
  list.push(indexEntry(chart.metadata, fileName, hex, now));
  // Newest first, as Helm's SortEntries does.
  list.sort((a, b) => {
    const va = String(a.version);
    const vb = String(b.version);
    return semver.valid(va) && semver.valid(vb) ? semver.rcompare(va, vb) : vb.localeCompare(va);
  });
  entries[chart.name] = list;
  const sortedEntries = Object.fromEntries(Object.keys(entries).sort().map((k) => [k, entries[k]]));
  const { entries: _e, generated: _g, apiVersion: _a, ...rest } = existing ?? { apiVersion: 'v1' };
  const doc = { apiVersion: 'v1', entries: sortedEntries, generated: now, ...rest };
  await atomicWrite(indexPath, stringifyYaml(doc, { sortMapEntries: true, lineWidth: 0 }));
  return { file: join(dir, fileName), index: indexPath, unchanged: false };
}
