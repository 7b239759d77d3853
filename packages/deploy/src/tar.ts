/**
 * A normalised tar.gz of a directory, as fluxcd/pkg builds Flux artifacts: entries in
 * `filepath.Walk` order (lexical at each level), names relative to the directory (directories
 * without a trailing slash, as Flux writes them), permission bits kept, uid/gid 0, empty user and
 * group names, zero times, symlinks and other special files skipped. The same input gives the same
 * bytes, and so the same digest.
 *
 * Headers come from npm `tar-stream` (USTAR, with a PAX record for names longer than USTAR allows);
 * gzip is node's zlib with fixed settings (no name, no mtime in the gzip header).
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { Digest } from '@airlock/oci';

export interface TarEntry {
  name: string;
  type: 'file' | 'directory';
  mode: number;
  data?: Buffer;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The entries of a directory tree (or of one file, named by its base name), in Walk order. */
export async function collectEntries(path: string): Promise<TarEntry[]> {
  const st = await lstat(path);
  if (st.isFile()) return [{ name: basename(path), type: 'file', mode: st.mode & 0o7777, data: await readFile(path) }];
  const out: TarEntry[] = [];
  const visit = async (dir: string, rel: string) => {
    for (const n of (await readdir(dir)).sort(byName)) {
      const p = join(dir, n);
      const r = rel ? `${rel}/${n}` : n;
      const s = await lstat(p);
      if (s.isDirectory()) {
        out.push({ name: r, type: 'directory', mode: s.mode & 0o7777 });
        await visit(p, r);
      } else if (s.isFile()) {
        out.push({ name: r, type: 'file', mode: s.mode & 0o7777, data: await readFile(p) });
      }
      // symlinks, sockets, devices: skipped, as Flux does
    }
  };
  await visit(path, '');
  return out;
}

const EPOCH = new Date(0);

/** The uncompressed tar of the entries. */
export function tarEntries(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on('data', (c: unknown) => chunks.push(Buffer.from(c as Uint8Array)));
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
  for (const e of entries) {
    const header = { name: e.name, mode: e.mode, mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '' };
    if (e.type === 'directory') p.entry({ ...header, type: 'directory' });
    else p.entry({ ...header, type: 'file', size: e.data!.length }, e.data!);
  }
  p.finalize();
  return done;
}

export interface Tarball {
  /** The tar.gz bytes (the layer). */
  gz: Buffer;
  /** sha256 of the tar.gz: the layer digest. */
  digest: Digest;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids entry. */
  diffId: Digest;
  entries: string[];
}

export async function deterministicTarGz(path: string): Promise<Tarball> {
  const entries = await collectEntries(path);
  const tar = await tarEntries(entries);
  // zlib writes no file name and mtime 0 in the gzip header; level fixed so the bytes are too.
  const gz = gzipSync(tar, { level: 9 });
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
  return { gz, digest: sha(gz), diffId: sha(tar), entries: entries.map((e) => e.name) };
}
