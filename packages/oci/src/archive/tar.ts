import type { Readable } from 'node:stream';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';
import { AirlockError } from '../errors.js';
import type { RandomAccess } from './random-access.js';

/**
 * A deterministic, uncompressed tar: entries in the order given (callers sort them), mtime 0,
 * uid/gid 0, no user or group names, mode 0644 (files) / 0755 (directories). Headers come from
 * tar-stream (ustar); content is streamed, never buffered whole. And a strict reader that indexes a
 * tar by offset (no extraction) and refuses anything an archive written here would never contain.
 */

export type TarEntry =
  | { readonly name: string; readonly type: 'directory' }
  | { readonly name: string; readonly type: 'file'; readonly bytes: Buffer }
  | { readonly name: string; readonly type: 'file'; readonly size: number; readonly open: () => Promise<Readable> };

export const TAR_BLOCK = 512;
/** Two zero blocks end an archive. */
export const TAR_END_BYTES = 2 * TAR_BLOCK;
const EPOCH = new Date(0);

function entrySize(e: TarEntry): number {
  return e.type === 'directory' ? 0 : 'bytes' in e ? e.bytes.length : e.size;
}

function padded(n: number): number {
  return Math.ceil(n / TAR_BLOCK) * TAR_BLOCK;
}

/** The exact size of the tar `writeTar` produces for these entries. */
export function tarSize(entries: readonly TarEntry[]): number {
  return entries.reduce((a, e) => a + TAR_BLOCK + padded(entrySize(e)), 0) + TAR_END_BYTES;
}

/** The header fields every entry shares: nothing that differs between machines or runs. */
type EntryHeader = Partial<Header> & { name: string };

function header(e: TarEntry): EntryHeader {
  return {
    name: e.name,
    type: e.type,
    size: entrySize(e),
    mode: e.type === 'directory' ? 0o755 : 0o644,
    mtime: EPOCH,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
  };
}

/**
 * Write entries as a tar into `out`, in order. Blob entries are opened one at a time, with the next
 * `lookahead` opened early so a registry's response latency overlaps the previous blob's bytes; each
 * opened stream holds at most its own buffer. Any failure (a source that does not verify) stops
 * the writing and is thrown; `out` is then incomplete and the caller discards it.
 */
export async function writeTar(entries: readonly TarEntry[], out: (chunk: Buffer) => Promise<void>, opts: { lookahead?: number; onEntry?: (e: TarEntry) => void } = {}): Promise<void> {
  const pack = tarPack();
  // errors surface through the consumer loop and the entry callbacks, never as an 'error' event
  pack.on('error', () => undefined);
  let failed: unknown;
  const consumer = (async () => {
    for await (const chunk of pack as AsyncIterable<Buffer>) await out(chunk);
  })();
  consumer.catch((e) => {
    failed ??= e;
    pack.destroy(e as Error);
  });
  const lookahead = Math.max(0, opts.lookahead ?? 2);
  const opened = new Map<number, Promise<Readable>>();
  const openAt = (i: number) => {
    const e = entries[i];
    if (!e || e.type !== 'file' || 'bytes' in e || opened.has(i)) return;
    const p = e.open();
    p.catch(() => undefined);
    opened.set(i, p);
  };
  try {
    for (let i = 0; i < entries.length; i++) {
      if (failed) throw failed;
      const e = entries[i]!;
      opts.onEntry?.(e);
      if (e.type === 'directory') {
        await addEntry(pack, header(e));
        continue;
      }
      if ('bytes' in e) {
        await addEntry(pack, header(e), e.bytes);
        continue;
      }
      for (let j = i; j <= i + lookahead; j++) openAt(j);
      const src = await opened.get(i)!;
      opened.delete(i);
      await streamEntry(pack, header(e), src);
    }
    pack.finalize();
    await consumer;
    if (failed) throw failed;
  } catch (e) {
    const original = failed ?? e;
    failed ??= e;
    for (const p of opened.values()) void p.then((s) => s.destroy(), () => undefined);
    pack.destroy();
    await consumer.catch(() => undefined);
    throw original;
  }
}

function addEntry(pack: Pack, h: EntryHeader, bytes?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (bytes) pack.entry(h, bytes, cb);
    else pack.entry(h, cb);
  });
}

async function streamEntry(pack: Pack, h: EntryHeader, src: Readable): Promise<void> {
  let done!: () => void;
  let fail!: (e: unknown) => void;
  const finished = new Promise<void>((res, rej) => {
    done = res;
    fail = rej;
  });
  finished.catch(() => undefined);
  const sink = pack.entry(h, (err) => (err ? fail(err) : done()));
  try {
    for await (const chunk of src) {
      if (!sink.write(chunk as Buffer)) await new Promise<void>((r) => sink.once('drain', () => r()));
    }
  } catch (e) {
    sink.on('error', () => undefined);
    sink.destroy(e as Error);
    src.destroy();
    throw e;
  }
  (sink as unknown as { end(): void }).end();
  await finished;
}

// ---------------------------------------------------------------------------------------------
// Reading

/** One entry of an indexed tar: where its content starts and how long it is. */
export interface TarIndexEntry {
  name: string;
  type: 'file' | 'directory';
  /** Offset of the entry's content in the archive. */
  offset: number;
  size: number;
  /** Offset of its header, for messages. */
  headerOffset: number;
}

function tarError(ra: RandomAccess, at: number, msg: string, hint = 'the bundle is damaged or was not written by airlock bundle create; nothing was used from it'): AirlockError {
  return new AirlockError('LAYOUT', `${ra.where(at)}: ${msg}`, { hint });
}

function str(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul < 0 ? slice.length : nul).toString('utf8');
}

function octal(buf: Buffer, start: number, len: number): number | undefined {
  const field = buf.subarray(start, start + len);
  // base-256 (GNU) for sizes above 8 GiB, as tar-stream writes them
  if (field[0] === 0x80) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const s = str(buf, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return undefined;
  return parseInt(s, 8);
}

function checksumOf(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum;
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  x: 'a pax extended header',
  g: 'a pax global header',
  L: 'a GNU long name',
  K: 'a GNU long link name',
};

/**
 * Index a tar by reading its headers only (content is skipped by offset): every entry must be a
 * regular file or a directory, with a relative name free of `..`, present once; the archive must
 * end with the two zero blocks, and nothing but zeros may follow. Content is not read or checked
 * here: callers verify digests before using any of it.
 */
export async function indexTar(ra: RandomAccess, opts: { maxEntries?: number } = {}): Promise<TarIndexEntry[]> {
  const entries: TarIndexEntry[] = [];
  const seen = new Set<string>();
  const maxEntries = opts.maxEntries ?? 1_000_000;
  let pos = 0;
  for (;;) {
    if (pos + TAR_BLOCK > ra.size) throw tarError(ra, pos, 'the archive is truncated (it ends inside an entry, without the end-of-archive blocks)', 'copy the bundle again: it was cut short');
    const block = await ra.read(pos, TAR_BLOCK);
    if (block.every((b) => b === 0)) {
      if (pos + 2 * TAR_BLOCK > ra.size) throw tarError(ra, pos, 'the archive is truncated (the end-of-archive blocks are incomplete)', 'copy the bundle again: it was cut short');
      const next = await ra.read(pos + TAR_BLOCK, TAR_BLOCK);
      if (!next.every((b) => b === 0)) throw tarError(ra, pos, 'a zero block in the middle of the archive');
      await expectZeros(ra, pos + 2 * TAR_BLOCK);
      return entries;
    }
    const sum = octal(block, 148, 8);
    if (sum === undefined || sum !== checksumOf(block)) throw tarError(ra, pos, 'a tar header with a bad checksum');
    const magic = block.subarray(257, 263).toString('latin1');
    if (magic !== 'ustar\0' && magic !== 'ustar ') throw tarError(ra, pos, 'not a ustar header');
    let name = str(block, 0, 100);
    const prefix = magic === 'ustar\0' ? str(block, 345, 155) : '';
    if (prefix) name = `${prefix}/${name}`;
    const flag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
    const size = octal(block, 124, 12);
    if (size === undefined) throw tarError(ra, pos, `entry "${name}": invalid size field`);
    if (TYPE_NAMES[flag]) throw tarError(ra, pos, `entry "${name}" is ${TYPE_NAMES[flag]}, which a bundle never contains`);
    if (flag !== '0' && flag !== '5') throw tarError(ra, pos, `entry "${name}" has the unknown type "${flag}"`);
    checkName(ra, pos, name);
    const type = flag === '5' ? 'directory' : 'file';
    const key = type === 'directory' ? name.replace(/\/+$/, '') : name;
    if (seen.has(key)) throw tarError(ra, pos, `entry "${name}" appears twice`, 'a bundle holds each entry once; this one may have been altered to shadow content');
    seen.add(key);
    const offset = pos + TAR_BLOCK;
    if (type === 'directory' && size !== 0) throw tarError(ra, pos, `directory "${name}" has content`);
    if (offset + size > ra.size) throw tarError(ra, pos, `entry "${name}" of ${size} bytes runs past the end of the archive (truncated)`, 'copy the bundle again: it was cut short');
    entries.push({ name: key, type, offset, size, headerOffset: pos });
    if (entries.length > maxEntries) throw tarError(ra, pos, `more than ${maxEntries} entries`);
    pos = offset + padded(size);
  }
}

function checkName(ra: RandomAccess, pos: number, name: string): void {
  if (name === '') throw tarError(ra, pos, 'an entry without a name');
  if (name.startsWith('/')) throw tarError(ra, pos, `entry "${name}" has an absolute path`);
  if (name.split('/').some((c) => c === '..')) throw tarError(ra, pos, `entry "${name}" climbs out of the archive with ".."`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\\]/.test(name)) throw tarError(ra, pos, `entry ${JSON.stringify(name)} has control characters or backslashes in its name`);
}

async function expectZeros(ra: RandomAccess, from: number): Promise<void> {
  for (let pos = from; pos < ra.size; pos += 1 << 16) {
    const chunk = await ra.read(pos, Math.min(1 << 16, ra.size - pos));
    if (!chunk.every((b) => b === 0)) throw tarError(ra, pos, 'data after the end of the archive');
  }
}
