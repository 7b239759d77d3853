import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, skopeo } from '../helpers/images.js';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('npm run release: the one file carried across the gap', () => {
  it('holds the bundles with SHA256SUMS, the SBOMs, the wrappers and the runner layer as an OCI layout; deterministic', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'airlock-release-'));
    const env = { ...process.env, AIRLOCK_RELEASE_DIR: out };
    const runRelease = () => execFileSync(process.execPath, ['scripts/release.mjs', '--no-build'], { cwd: repoRoot, env, encoding: 'utf8' }).trim();
    const file = runRelease();
    expect(path.basename(file)).toBe('airlock-0.1.0.tar.gz');
    const first = sha(file);
    expect(sha(runRelease())).toBe(first);

    const x = mkdtempSync(path.join(tmpdir(), 'airlock-release-x-'));
    execFileSync('tar', ['-xzf', file, '-C', x]);
    const top = path.join(x, 'airlock-0.1.0');
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: top, encoding: 'utf8' })).toMatch(/airlock\.cjs: OK/);
    expect(execFileSync('node', [path.join(top, 'airlock.cjs'), '--version'], { encoding: 'utf8' }).trim()).toBe('0.1.0');
    for (const f of ['airlock.spdx.json', 'airlock.cdx.json', 'README.md']) expect(existsSync(path.join(top, f)), f).toBe(true);
    for (const d of ['gitlab-templates', 'jenkins']) expect(existsSync(path.join(top, d)), d).toBe(existsSync(path.join(repoRoot, d)));
    const raw = JSON.parse(await skopeo(['inspect', '--raw', `oci:${path.join(top, 'runner-layer')}:airlock-0.1.0`])) as { artifactType: string; layers: Array<{ digest: string }> };
    expect(raw.artifactType).toBe('application/vnd.airlock.runner-layer.v1');
    const listing = execFileSync('tar', ['-tzf', path.join(top, 'runner-layer', 'blobs', 'sha256', raw.layers[0]!.digest.slice(7))], { encoding: 'utf8' });
    expect(listing.split('\n')).toEqual(expect.arrayContaining(['opt/airlock/airlock.cjs', 'usr/local/bin/airlock']));
  });
});
