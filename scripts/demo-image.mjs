// Write a small, valid OCI image layout (no server, no network): a multi-platform index with two
// platform images, each a real tar+gzip layer and a config. Used by `npm run demo`.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

function tar(name, content) {
  const header = Buffer.alloc(512);
  const put = (s, off, len) => header.write(s, off, len, 'ascii');
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(content.length.toString(8).padStart(11, '0') + '\0', 124, 12);
  put('00000000000\0', 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of header) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024)]);
}

export function writeDemoLayout(dir, tags = ['hello']) {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (bytes) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(dir, 'blobs', 'sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const entries = [];
  for (const tag of tags) {
    const manifests = [];
    for (const arch of ['amd64', 'arm64']) {
      const text = Buffer.from(`hello from ${tag} on linux/${arch}\n`);
      const layerTar = tar('hello.txt', text);
      const layer = put(gzipSync(layerTar, { level: 9 }));
      const diffId = `sha256:${createHash('sha256').update(layerTar).digest('hex')}`;
      const config = put(Buffer.from(JSON.stringify({
        architecture: arch, os: 'linux',
        config: { Cmd: ['cat', '/hello.txt'] },
        rootfs: { type: 'layers', diff_ids: [diffId] },
      })));
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }));
      manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...put(manifest), platform: { architecture: arch, os: 'linux' } });
    }
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    entries.push({ mediaType: 'application/vnd.oci.image.index.v1+json', ...put(index), annotations: { 'org.opencontainers.image.ref.name': tag } });
  }
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, ...tags] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node scripts/demo-image.mjs DIR [TAG...]');
    process.exit(2);
  }
  writeDemoLayout(dir, tags.length ? tags : undefined);
}
