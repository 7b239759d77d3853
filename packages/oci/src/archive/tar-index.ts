import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { AirlockError } from '../errors.js';

/**
 * A tar file read by offset: its headers are read once (name → offset and size), and each entry is
 * then streamed straight from the file, so a multi-gigabyte `docker save` archive is never unpacked
 * or read twice. Hostile input is refused while indexing: absolute names, `..` components,
 * duplicate entries, headers with a bad checksum, and entries running past the end of the file.
 * Links are kept and only followed on use, and only to entries inside the archive.
 */

export interface TarEntry {
  name: string;
  /** Offset of the entry's data in the file. */
  offset: number;
  size: number;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** Target of a symlink (relative to the link's directory) or hard link (an archive path). */
  linkname?: string;
}

const BLOCK = 512;
/** PAX and GNU long-name records are small; refuse absurd ones rather than buffer them. */
const MAX_META_BYTES = 1024 * 1024;
const MAX_ENTRIES = 1_000_000;
const MAX_LINK_HOPS = 16;

function tarError(file: string, msg: string, hint = 'the archive is damaged or was not written by docker save, skopeo or Airlock; nothing was read from it'): AirlockError {
  return new AirlockError('BAD_INPUT', `${file}: ${msg}`, { hint });
}

/** Octal (NUL/space terminated) or GNU base-256 number field. */
function readNumber(buf: Buffer, start: number, len: number): number {
  const field = buf.subarray(start, start + len);
  if (field[0]! & 0x80) {
    // base-256: big-endian, first byte's high bit is the marker
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/g, '').replace(/^[\0 ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return NaN;
  return parseInt(text, 8);
}

function readString(buf: Buffer, start: number, len: number): string {
  const field = buf.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

function checksumOk(h: Buffer): boolean {
  const stored = readNumber(h, 148, 8);
  let unsigned = 0;
  for (let i = 0; i < BLOCK; i++) unsigned += i >= 148 && i < 156 ? 32 : h[i]!;
  return stored === unsigned;
}

function parsePax(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const buf = Buffer.from(text, 'utf8');
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(buf.subarray(i, sp).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > buf.length) break;
    const rec = buf.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * An archive path in canonical form (`a/b`), or undefined when it is absolute or leaves the
 * archive. `./` prefixes and trailing slashes are dropped, as tar writers vary.
 */
export function cleanArchivePath(name: string): string | undefined {
  if (name === '' || name.startsWith('/') || name.includes('\\') || name.includes('\0')) return undefined;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}

export class TarIndex {
  readonly #entries = new Map<string, TarEntry>();

  private constructor(
    readonly file: string,
    readonly size: number,
  ) {}

  /** Read every header of `file` once. */
  static async open(file: string): Promise<TarIndex> {
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (e) {
      throw new AirlockError('BAD_INPUT', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        hint: 'check the archive path',
      });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw tarError(file, 'not a regular file', 'give the path of a tar file');
      const idx = new TarIndex(file, st.size);
      await idx.#scan(fh);
      return idx;
    } finally {
      await fh.close();
    }
  }

  async #scan(fh: FileHandle): Promise<void> {
    const header = Buffer.alloc(BLOCK);
    let pos = 0;
    let paxName: string | undefined;
    let paxLink: string | undefined;
    let paxSize: number | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    let count = 0;
    const readMeta = async (offset: number, size: number): Promise<string> => {
      if (size > MAX_META_BYTES) throw tarError(this.file, `an extended header of ${size} bytes at offset ${offset} is too large`);
      const b = Buffer.alloc(size);
      const { bytesRead } = await fh.read(b, 0, size, offset);
      if (bytesRead !== size) throw tarError(this.file, 'truncated (an extended header runs past the end of the file)');
      return b.toString('utf8');
    };
    for (;;) {
      if (pos + BLOCK > this.size) {
        // A tar ends with zero blocks; some writers omit them. Anything else is a cut-off file.
        if (pos === this.size) break;
        throw tarError(this.file, `truncated at offset ${pos} (a partial header)`);
      }
      const { bytesRead } = await fh.read(header, 0, BLOCK, pos);
      if (bytesRead !== BLOCK) throw tarError(this.file, `truncated at offset ${pos}`);
      if (header.every((b) => b === 0)) break;
      if (!checksumOk(header)) throw tarError(this.file, `not a tar archive (bad header checksum at offset ${pos})`);
      if (++count > MAX_ENTRIES) throw tarError(this.file, `more than ${MAX_ENTRIES} entries`);
      const typeflag = String.fromCharCode(header[156]!);
      let size = readNumber(header, 124, 12);
      if (!Number.isSafeInteger(size) || size < 0) throw tarError(this.file, `bad size field at offset ${pos}`);
      if (paxSize !== undefined && (typeflag === '0' || typeflag === '\0' || typeflag === '7')) size = paxSize;
      const dataOffset = pos + BLOCK;
      if (dataOffset + size > this.size) throw tarError(this.file, `truncated: an entry at offset ${pos} needs ${size} bytes past the end of the file`);
      const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      if (typeflag === 'x') {
        const pax = parsePax(await readMeta(dataOffset, size));
        paxName = pax.path;
        paxLink = pax.linkpath;
        if (pax.size !== undefined) {
          paxSize = Number(pax.size);
          if (!Number.isSafeInteger(paxSize) || paxSize < 0) throw tarError(this.file, `bad PAX size at offset ${pos}`);
        }
        pos = next;
        continue;
      }
      if (typeflag === 'g') {
        pos = next;
        continue;
      }
      if (typeflag === 'L' || typeflag === 'K') {
        const text = (await readMeta(dataOffset, size)).replace(/\0.*$/s, '');
        if (typeflag === 'L') longName = text;
        else longLink = text;
        pos = next;
        continue;
      }
      const magic = header.subarray(257, 263).toString('latin1');
      const prefix = magic === 'ustar\0' ? readString(header, 345, 155) : '';
      const rawName = paxName ?? longName ?? (prefix ? `${prefix}/${readString(header, 0, 100)}` : readString(header, 0, 100));
      const rawLink = paxLink ?? longLink ?? readString(header, 157, 100);
      paxName = paxLink = longName = longLink = undefined;
      paxSize = undefined;
      pos = next;
      const type: TarEntry['type'] =
        typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'directory' : typeflag === '2' ? 'symlink' : typeflag === '1' ? 'hardlink' : 'other';
      const name = cleanArchivePath(rawName);
      if (name === undefined) {
        throw tarError(this.file, `unsafe entry name "${rawName}" (absolute or with ..)`, 'refusing a tar that writes outside its own root');
      }
      const existing = this.#entries.get(name);
      if (existing && !(existing.type === 'directory' && type === 'directory')) {
        throw tarError(this.file, `duplicate entry "${name}"`, 'an archive naming one file twice is ambiguous; refusing it');
      }
      this.#entries.set(name, {
        name,
        offset: dataOffset,
        size: type === 'file' ? size : 0,
        type,
        ...(type === 'symlink' || type === 'hardlink' ? { linkname: rawLink } : {}),
      });
    }
  }

  names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    const clean = cleanArchivePath(name);
    return clean !== undefined && this.#entries.has(clean);
  }

  /** The regular file at `name`, following links inside the archive; undefined when absent. */
  find(name: string): TarEntry | undefined {
    let current: string | undefined = cleanArchivePath(name);
    if (current === undefined) throw tarError(this.file, `unsafe path "${name}" (absolute or with ..)`);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const e: TarEntry | undefined = this.#entries.get(current);
      if (!e) return undefined;
      const here: string = current;
      if (e.type === 'file') return e;
      if (e.type !== 'symlink' && e.type !== 'hardlink') {
        throw tarError(this.file, `"${here}" is not a regular file`);
      }
      const link: string = e.linkname ?? '';
      // A symlink is relative to its own directory, a hard link names an archive path.
      const target: string | undefined = e.type === 'symlink' ? (link.startsWith('/') ? undefined : posix.normalize(posix.join(posix.dirname(here), link))) : link;
      const clean: string | undefined = target === undefined || target.startsWith('../') || target === '..' ? undefined : cleanArchivePath(target);
      if (clean === undefined) {
        throw tarError(this.file, `"${here}" links to "${link}", outside the archive`, 'refusing a link that leaves the archive');
      }
      current = clean;
    }
    throw tarError(this.file, `"${name}": too many levels of links`);
  }

  /** Like find, but a missing entry is an error naming the archive. */
  get(name: string, what = name): TarEntry {
    const e = this.find(name);
    if (!e) throw tarError(this.file, `${what} is missing from the archive`);
    return e;
  }

  /** The raw bytes of an entry (streamed from the file; not verified here). */
  stream(entry: TarEntry): Readable {
    if (entry.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 256 * 1024 });
  }

  /** A small entry read whole, refusing one larger than `limit`. */
  async read(entry: TarEntry, limit: number, what: string): Promise<Buffer> {
    if (entry.size > limit) throw tarError(this.file, `${what} is ${entry.size} bytes, more than the ${limit} allowed`);
    const fh = await open(this.file, 'r');
    try {
      const b = Buffer.alloc(entry.size);
      const { bytesRead } = await fh.read(b, 0, entry.size, entry.offset);
      if (bytesRead !== entry.size) throw tarError(this.file, `${what} is truncated`);
      return b;
    } finally {
      await fh.close();
    }
  }

  /** The first bytes of an entry (to sniff compression). */
  async head(entry: TarEntry, n: number): Promise<Buffer> {
    const len = Math.min(n, entry.size);
    const fh = await open(this.file, 'r');
    try {
      const b = Buffer.alloc(len);
      await fh.read(b, 0, len, entry.offset);
      return b;
    } finally {
      await fh.close();
    }
  }
}
