// Write an OCI layout holding one image (tag img-0) with a single big gzip'd layer of random bytes,
// streamed to disk with bounded memory. mkimages.py builds each layer in memory (payload, tar and
// gzip output all at once) and Python's Random.randbytes() cannot make more than 256 MiB in one call,
// so it cannot produce the 1 GiB layer of the peak-RSS run; this writes the same layout shape
// (index.json with org.opencontainers.image.ref.name, OCI manifest, config with diff_ids).
import { createHash, randomFill } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { createGzip, constants as zc } from 'node:zlib';

function tarHeader(name, size) {
  const h = Buffer.alloc(512, 0);
  const put = (s, off, len) => h.write(s, off, Math.min(len, Buffer.byteLength(s)), 'ascii');
  const oct = (n, len) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(size, 12), 124, 12);
  put(oct(0, 12), 136, 12); // mtime
  h.fill(0x20, 148, 156); // checksum field counts as spaces
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** Write the layout; returns { layoutDir, layerDigest, layerSize, ms }. */
export async function writeBigImage(layoutDir, mb) {
  const started = performance.now();
  const blobs = path.join(layoutDir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(path.join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const blob = (data) => {
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };

  const size = Math.floor(mb * 1024 * 1024);
  const tmp = path.join(blobs, `.tmp-${process.pid}`);
  const out = createWriteStream(tmp);
  const gz = createGzip({ level: 1, memLevel: 9, chunk: 1 << 20, strategy: zc.Z_DEFAULT_STRATEGY });
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let gzSize = 0;
  gz.on('data', (c) => {
    gzHash.update(c);
    gzSize += c.length;
    if (!out.write(c)) {
      gz.pause();
      out.once('drain', () => gz.resume());
    }
  });
  const gzDone = once(gz, 'end');
  const write = async (buf) => {
    tarHash.update(buf);
    if (!gz.write(buf)) await once(gz, 'drain');
  };
  await write(tarHeader('data/big.bin', size));
  const CHUNK = 1 << 20;
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let left = size; left > 0; ) {
    const n = Math.min(CHUNK, left);
    const b = Buffer.from(await new Promise((res, rej) => randomFill(buf, 0, n, (e, x) => (e ? rej(e) : res(x.subarray(0, n))))));
    await write(b);
    left -= n;
  }
  const pad = (512 - (size % 512)) % 512;
  await write(Buffer.alloc(pad + 1024, 0)); // pad the file, then the two zero end blocks
  gz.end();
  await gzDone;
  out.end();
  await once(out, 'close');
  const layerHex = gzHash.digest('hex');
  renameSync(tmp, path.join(blobs, layerHex));
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${layerHex}`, size: gzSize };

  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        config: { Env: ['IMG=big'] },
        created: '2026-01-01T00:00:00Z',
        os: 'linux',
        rootfs: { diff_ids: [`sha256:${tarHash.digest('hex')}`], type: 'layers' },
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        config: { digest: config.digest, mediaType: 'application/vnd.oci.image.config.v1+json', size: config.size },
        layers: [layer],
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        schemaVersion: 2,
      }),
    ),
  );
  writeFileSync(
    path.join(layoutDir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifest.digest,
          size: manifest.size,
          annotations: { 'org.opencontainers.image.ref.name': 'img-0' },
        },
      ],
    }),
  );
  return { layoutDir, layerDigest: layer.digest, layerSize: gzSize, ms: performance.now() - started };
}
