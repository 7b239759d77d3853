import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import type { Digest } from '@airlock/oci';

/** One entry of a layer: a directory, a file copied from disk, or bytes. */
export type LayerEntry =
  | { path: string; type: 'directory'; mode?: number }
  | { path: string; type: 'file'; mode?: number; from: string }
  | { path: string; type: 'file'; mode?: number; bytes: Buffer };

export interface BuiltLayer {
  /** The gzip-compressed layer, in a temp file. */
  file: string;
  digest: Digest;
  size: number;
  /** sha256 of the uncompressed tar (rootfs.diff_ids). */
  diffId: Digest;
}

/** Hash what flows through without changing it. */
function hashing(h: ReturnType<typeof createHash>, count?: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      if (count) count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

/**
 * A deterministic layer (fluxcd/pkg tar and ko's rules): entries sorted by path, parents first,
 * uid/gid 0, no user or group names, one fixed mtime; gzip with no name and mtime 0. The same
 * entries give the same bytes, so a rebuild gives the same digests. Both digests (compressed for
 * the descriptor, uncompressed for diff_ids) come from the one pass that writes the file.
 */
export async function buildLayer(entries: LayerEntry[], mtime: Date, dir = tmpdir()): Promise<BuiltLayer> {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const file = join(dir, `airlock-layer-${randomBytes(6).toString('hex')}.tar.gz`);
  const tar = pack();
  const diff = createHash('sha256');
  const compressed = createHash('sha256');
  const size = { n: 0 };
  const written = pipeline(tar, hashing(diff), createGzip({ level: 9 }), hashing(compressed, size), createWriteStream(file));
  const feed = (async () => {
    for (const e of sorted) {
      const base = { name: e.path, mtime, uid: 0, gid: 0, uname: '', gname: '' };
      if (e.type === 'directory') {
        await new Promise<void>((res, rej) => tar.entry({ ...base, type: 'directory', mode: e.mode ?? 0o755 }, (err) => (err ? rej(err) : res())));
      } else if ('bytes' in e) {
        await new Promise<void>((res, rej) => tar.entry({ ...base, type: 'file', mode: e.mode ?? 0o644 }, e.bytes, (err) => (err ? rej(err) : res())));
      } else {
        const { size: n } = await stat(e.from);
        const sink = tar.entry({ ...base, type: 'file', mode: e.mode ?? 0o644, size: n });
        // tar-stream's entry is a streamx Writable: pipe through a Node PassThrough.
        await new Promise<void>((res, rej) => {
          const src = createReadStream(e.from).pipe(new PassThrough());
          src.on('error', rej);
          src.on('data', (c: Buffer) => {
            if (!sink.write(c)) {
              src.pause();
              sink.once('drain', () => src.resume());
            }
          });
          src.on('end', () => sink.end(undefined));
          sink.on('finish', () => res());
          sink.on('error', rej);
        });
      }
    }
    tar.finalize();
  })();
  feed.catch((e: unknown) => tar.destroy(e as Error));
  await Promise.all([feed, written]);
  return { file, digest: `sha256:${compressed.digest('hex')}`, size: size.n, diffId: `sha256:${diff.digest('hex')}` };
}
