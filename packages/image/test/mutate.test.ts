import { describe, expect, it } from 'vitest';
import { appendToConfig, appendToManifest, layerMediaType, replaceInIndex } from '../src/mutate.js';

const layer = { digest: `sha256:${'1'.repeat(64)}` as const, size: 10, diffId: `sha256:${'2'.repeat(64)}` };
const changes = { created: '2026-01-01T00:00:00Z', createdBy: 'airlock image build', env: { AIRLOCK_HOME: '/opt/airlock' }, path: '/usr/local/bin', labels: { 'org.opencontainers.image.version': '0.1.0' }, unsetEntrypoint: true };

describe('appending the Airlock layer (crane append semantics)', () => {
  it('config: diff_id and history appended, Env set (replacing), PATH kept or prepended, Entrypoint removed, Cmd and other labels kept', () => {
    const base = { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/usr/bin:/bin', 'AIRLOCK_HOME=/old', 'NODE_VERSION=20'], Entrypoint: ['docker-entrypoint.sh'], Cmd: ['node'], Labels: { maintainer: 'x' } }, rootfs: { type: 'layers', diff_ids: [`sha256:${'3'.repeat(64)}`] }, history: [{ created_by: 'base' }] };
    const out = JSON.parse(appendToConfig(Buffer.from(JSON.stringify(base)), layer, changes).toString());
    expect(out.rootfs.diff_ids).toEqual([`sha256:${'3'.repeat(64)}`, layer.diffId]);
    expect(out.history).toEqual([{ created_by: 'base' }, { created: changes.created, created_by: changes.createdBy }]);
    expect(out.config.Env).toEqual(['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_VERSION=20', 'AIRLOCK_HOME=/opt/airlock']);
    expect(out.config.Entrypoint).toBeUndefined();
    expect(out.config.Cmd).toEqual(['node']);
    expect(out.config.Labels).toEqual({ maintainer: 'x', 'org.opencontainers.image.version': '0.1.0' });
    // Already on PATH: unchanged.
    const again = JSON.parse(appendToConfig(Buffer.from(JSON.stringify({ ...base, config: { Env: ['PATH=/usr/local/bin:/usr/bin'] } })), layer, changes).toString());
    expect(again.config.Env[0]).toBe('PATH=/usr/local/bin:/usr/bin');
  });

  it('refuses a config that is not an image config', () => {
    expect(() => appendToConfig(Buffer.from('[1]'), layer, changes)).toThrowError(/not a JSON object/);
    expect(() => appendToConfig(Buffer.from('{"rootfs":{"diff_ids":"x"}}'), layer, changes)).toThrowError(/no rootfs.diff_ids/);
  });

  it('manifest: Docker v2 gets a Docker layer type and no annotations; OCI gets both', () => {
    const cfg = { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'4'.repeat(64)}` as const, size: 5 };
    const docker = JSON.parse(appendToManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { ...cfg, digest: `sha256:${'5'.repeat(64)}` }, layers: [] })), 'application/vnd.docker.distribution.manifest.v2+json', cfg, layer, { a: 'b' }).toString());
    expect(docker.layers).toEqual([{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer.digest, size: 10 }]);
    expect(docker.config.digest).toBe(cfg.digest);
    expect(docker.annotations).toBeUndefined();
    expect(layerMediaType('application/vnd.oci.image.manifest.v1+json')).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    const oci = JSON.parse(appendToManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: cfg, layers: [] })), 'application/vnd.oci.image.manifest.v1+json', cfg, layer, { a: 'b' }).toString());
    expect(oci.annotations).toEqual({ a: 'b' });
  });

  it('index: replaced entries keep their platform; entries not extended are dropped', () => {
    const idx = { schemaVersion: 2, manifests: [{ digest: 'sha256:a', size: 1, platform: { os: 'linux', architecture: 'amd64' } }, { digest: 'sha256:b', size: 1, platform: { os: 'unknown', architecture: 'unknown' } }] };
    const out = JSON.parse(replaceInIndex(Buffer.from(JSON.stringify(idx)), new Map([['sha256:a', { mediaType: 'm', digest: `sha256:${'6'.repeat(64)}` as const, size: 9 }]]), {}).toString());
    expect(out.manifests).toEqual([{ digest: `sha256:${'6'.repeat(64)}`, size: 9, platform: { os: 'linux', architecture: 'amd64' } }]);
  });
});
