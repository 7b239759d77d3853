// `npm run release`: the one file a user carries across the air gap to install Airlock.
// release/airlock-VERSION.tar.gz holds the bundles, SHA256SUMS, the SBOMs, the GitLab component
// project, the Jenkins library, the GitHub action, and the runner-image layer as an OCI layout
// (an artifact `airlock image build` can also rebuild onto any mirrored Node base). Deterministic.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buildLayer, layerEntries, type LayerEntry } from '@airlock/image';
import { digestOf, MediaType, OciLayout, parseManifest, type Descriptor } from '@airlock/oci';
import { AIRLOCK_VERSION } from '@airlock/step-kit/inputs';

const RUNNER_LAYER_TYPE = 'application/vnd.airlock.runner-layer.v1';

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const n of (await readdir(path.join(dir, rel))).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    out.push(...((await stat(path.join(dir, r))).isDirectory() ? [`${r}/`, ...(await walk(dir, r))] : [r]));
  }
  return out;
}

/** The runner layer as an OCI artifact in a layout: blob, empty config, manifest, tag. */
async function runnerLayerLayout(dir: string, created: Date): Promise<void> {
  const layer = await buildLayer(await layerEntries('dist'), created);
  try {
    const l = await OciLayout.openForWrite(dir);
    const layerDesc: Descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size, annotations: { 'org.opencontainers.image.title': 'airlock-runner-layer.tar.gz', 'dev.airlock.diff-id': layer.diffId } };
    await l.writeBlob(layerDesc, Readable.from(await readFile(layer.file)));
    const empty = Buffer.from('{}');
    await l.writeBytes(digestOf(empty), empty);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: RUNNER_LAYER_TYPE,
      config: { mediaType: MediaType.OciEmpty, digest: digestOf(empty), size: 2 },
      layers: [layerDesc],
      annotations: { 'org.opencontainers.image.version': AIRLOCK_VERSION, 'org.opencontainers.image.created': created.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    }));
    const m = parseManifest(manifest, MediaType.OciManifest, 'runner layer manifest');
    await l.writeBytes(m.digest, m.bytes);
    await l.setRef({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, `airlock-${AIRLOCK_VERSION}`);
  } finally {
    await rm(layer.file, { force: true });
  }
}

export async function release(outDir = 'release'): Promise<string> {
  const created = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? 0) * 1000);
  const top = `airlock-${AIRLOCK_VERSION}`;
  const stage = await mkdtemp(path.join(tmpdir(), 'airlock-release-'));
  try {
    const bundles = (await readdir('dist')).filter((n) => n.endsWith('.cjs') || /\.(spdx|cdx)\.json$/.test(n)).sort();
    if (!bundles.includes('airlock.cjs')) throw new Error('dist/airlock.cjs is missing: run npm run build first');
    const sums = await Promise.all(bundles.map(async (n) => `${await sha256File(path.join('dist', n))}  ${n}\n`));
    await runnerLayerLayout(path.join(stage, 'runner-layer'), created);
    const entries: LayerEntry[] = [
      { path: `${top}/`, type: 'directory' },
      ...bundles.map((n) => ({ path: `${top}/${n}`, type: 'file' as const, from: path.join('dist', n), mode: n.endsWith('.cjs') ? 0o755 : 0o644 })),
      { path: `${top}/SHA256SUMS`, type: 'file', bytes: Buffer.from(sums.join('')) },
      { path: `${top}/README.md`, type: 'file', from: 'README.md' },
    ];
    for (const extra of ['action.yml']) if (existsSync(extra)) entries.push({ path: `${top}/${extra}`, type: 'file', from: extra });
    for (const [dir, base] of [['gitlab-templates', '.'], ['jenkins', '.'], ['runner-layer', stage]] as const) {
      const root = path.join(base, dir);
      if (!existsSync(root)) continue;
      entries.push({ path: `${top}/${dir}/`, type: 'directory' });
      for (const r of await walk(root)) {
        entries.push(r.endsWith('/') ? { path: `${top}/${dir}/${r}`, type: 'directory' } : { path: `${top}/${dir}/${r}`, type: 'file', from: path.join(root, r) });
      }
    }
    const tarball = await buildLayer(entries, created, stage);
    const out = path.join(outDir, `${top}.tar.gz`);
    await (await import('node:fs/promises')).mkdir(outDir, { recursive: true });
    await rename(tarball.file, out).catch(async () => {
      await (await import('node:fs/promises')).copyFile(tarball.file, out);
    });
    return out;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
