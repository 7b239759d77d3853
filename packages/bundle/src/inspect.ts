import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AirlockError, type Descriptor } from '@airlock/oci';
import { TITLE_ANNOTATION, type BundleArchive, type Inventory, type InventoryEntry } from '@airlock/oci/archive';
import { formatBytes, shortDigest } from '@airlock/step-kit';

/** `bundle list`: one block per entry. */
export function listLines(a: BundleArchive): string[] {
  const inv = a.inventory;
  const lines = [
    `${a.display}: ${inv.entries.length} entries, ${inv.blobs.length} blobs, ${formatBytes(a.ra.size)}, created ${inv.created} by airlock ${inv.airlock}`,
    `inventory ${a.inventoryDigest}${a.signature ? ' (signed)' : ' (not signed)'}${inv.previous ? `, incremental on ${inv.previous.inventory} (${inv.external.length} blobs there)` : ''}`,
  ];
  for (const e of inv.entries) {
    if (e.kind === 'image') {
      const sigs = (k: string) => e.attachments.filter((x) => x.kind === k).length;
      const att = [['signature', 'signatures'], ['attestation', 'attestations'], ['sbom', 'SBOMs'], ['referrer', 'referrers']].map(([k, label]) => (sigs(k!) ? `${sigs(k!)} ${label}` : '')).filter(Boolean);
      lines.push(`image ${e.name}  ${e.digest}${e.sourceDigest ? ` (source index ${shortDigest(e.sourceDigest)})` : ''}  ${formatBytes(e.size)}`);
      lines.push(`  from ${e.source}${e.platforms?.length ? `; platforms ${e.platforms.join(', ')}` : ''}; ${att.length ? att.join(', ') : 'no signatures'}`);
    } else if (e.kind === 'file') {
      lines.push(`file  ${e.name}${e.directory ? '/' : ''}  ${e.files.length} file${e.files.length === 1 ? '' : 's'}, ${formatBytes(e.size)}  ${e.digest}`);
    } else {
      lines.push(`chart ${e.name} ${e.version}  ${formatBytes(e.size)}  ${e.digest}  from ${e.source}${e.images?.length ? `; ${e.images.length} images` : ''}`);
    }
  }
  return lines;
}

/** Resolve a stored path under DIR, refusing anything that would land outside it. */
function safeTarget(dir: string, path: string): string {
  const root = resolve(dir);
  const target = resolve(root, path);
  if (path.startsWith('/') || path.split('/').includes('..') || !target.startsWith(root + sep)) {
    throw new AirlockError('LAYOUT', `refusing to write "${path}": it would land outside ${dir}`, { hint: 'the bundle was altered; nothing was written' });
  }
  return target;
}

async function writeVerified(a: BundleArchive, desc: Descriptor, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, 'wx');
  try {
    await pipeline(a.openBlob(desc), fh.createWriteStream());
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** `bundle extract`: a file entry (one file, a directory, or one file inside a directory entry) or a chart. */
export async function extractEntry(a: BundleArchive, what: { file: string } | { chart: string }, dir: string): Promise<string[]> {
  const entries = a.inventory.entries;
  if ('chart' in what) {
    const [name, version] = what.chart.split('@') as [string, string | undefined];
    const charts = entries.filter((e): e is Extract<InventoryEntry, { kind: 'chart' }> => e.kind === 'chart' && e.name === name && (!version || e.version === version));
    if (!charts.length) throw new AirlockError('BAD_INPUT', `the bundle holds no chart ${what.chart}`, { hint: 'airlock bundle list shows its charts' });
    const c = charts[charts.length - 1]!;
    const m = await a.readManifest({ digest: c.digest, mediaType: '' });
    if (m.kind !== 'image') throw new AirlockError('LAYOUT', `chart ${c.name}: its manifest is an index`);
    const layer = m.image.layers.find((l) => l.mediaType.includes('helm.chart.content')) ?? m.image.layers[0];
    if (!layer) throw new AirlockError('LAYOUT', `chart ${c.name}: its manifest has no layers`);
    const out: string[] = [];
    const target = safeTarget(dir, `${c.name}-${c.version}.tgz`);
    await writeVerified(a, layer, target);
    out.push(target);
    const prov = m.image.layers.find((l) => l.mediaType.includes('provenance'));
    if (prov) {
      const p = safeTarget(dir, `${c.name}-${c.version}.tgz.prov`);
      await writeVerified(a, prov, p);
      out.push(p);
    }
    return out;
  }
  const want = what.file.replace(/\/+$/, '');
  const files = entries.filter((e): e is Extract<InventoryEntry, { kind: 'file' }> => e.kind === 'file');
  let entry = files.find((e) => e.name === want);
  let only: string | undefined;
  if (!entry) {
    entry = files.find((e) => e.directory && want.startsWith(`${e.name}/`));
    only = entry ? want.slice(entry.name.length + 1) : undefined;
  }
  if (!entry) throw new AirlockError('BAD_INPUT', `the bundle holds no file ${what.file}`, { hint: `files in it: ${files.map((f) => f.name).join(', ') || 'none'}` });
  const m = await a.readManifest({ digest: entry.digest, mediaType: '' });
  if (m.kind !== 'image') throw new AirlockError('LAYOUT', `file ${entry.name}: its manifest is an index`);
  const layers = m.image.layers.filter((l) => only === undefined || l.annotations?.[TITLE_ANNOTATION] === only);
  if (!layers.length) throw new AirlockError('BAD_INPUT', `the bundle holds no file ${what.file}`);
  // check every target before writing anything
  const targets = layers.map((l) => {
    const title = l.annotations?.[TITLE_ANNOTATION];
    if (!title) throw new AirlockError('LAYOUT', `file ${entry.name}: a layer without a title`);
    const rel = entry.directory && only === undefined ? join(entry.name.split('/').pop()!, title) : title.split('/').pop()!;
    return { layer: l, target: safeTarget(dir, rel.split(sep).join('/')) };
  });
  for (const t of targets) await writeVerified(a, t.layer, t.target);
  return targets.map((t) => t.target);
}

export interface InventoryDiff {
  added: { kind: string; name: string; digest: string }[];
  changed: { kind: string; name: string; from: string; to: string }[];
  removed: { kind: string; name: string; digest: string }[];
  unchanged: number;
  /** Blobs of NEW that OLD did not carry: what `create --since OLD` would store. */
  newBlobs: number;
  newBytes: number;
  totalBytes: number;
}

export function diffInventories(older: Inventory, newer: Inventory): InventoryDiff {
  const key = (e: InventoryEntry) => `${e.kind} ${e.name}${e.kind === 'chart' ? `@${e.version}` : ''}`;
  const before = new Map(older.entries.map((e) => [key(e), e]));
  const after = new Map(newer.entries.map((e) => [key(e), e]));
  const d: InventoryDiff = { added: [], changed: [], removed: [], unchanged: 0, newBlobs: 0, newBytes: 0, totalBytes: 0 };
  for (const [k, e] of after) {
    const o = before.get(k);
    if (!o) d.added.push({ kind: e.kind, name: e.name, digest: e.digest });
    else if (o.digest !== e.digest) d.changed.push({ kind: e.kind, name: e.name, from: o.digest, to: e.digest });
    else d.unchanged++;
  }
  for (const [k, e] of before) if (!after.has(k)) d.removed.push({ kind: e.kind, name: e.name, digest: e.digest });
  const had = new Set([...older.blobs, ...older.external].map((b) => b.digest));
  for (const b of [...newer.blobs, ...newer.external]) {
    d.totalBytes += b.size;
    if (!had.has(b.digest)) {
      d.newBlobs++;
      d.newBytes += b.size;
    }
  }
  return d;
}
