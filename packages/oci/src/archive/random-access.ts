import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { AirlockError } from '../errors.js';

/**
 * One archive read by offset, whether it is one file or split into parts (`FILE.001`, `FILE.002`…):
 * the parts read as if they were concatenated. Every message names the part and the offset in it.
 */
export interface RandomAccess {
  readonly size: number;
  /** Exactly `len` bytes at `pos` (a read past the end is an error). */
  read(pos: number, len: number): Promise<Buffer>;
  /** `len` bytes from `pos`, streamed (parts crossed transparently). */
  stream(pos: number, len: number): Readable;
  /** "FILE.002 at offset 1234" for an offset of the whole archive. */
  where(pos: number): string;
  close(): Promise<void>;
}

export interface PartFile {
  path: string;
  size: number;
}

/** Parts (or one file) read as one archive. File handles are opened lazily and kept until close(). */
export class PartsReader implements RandomAccess {
  readonly size: number;
  readonly #starts: number[];
  readonly #handles = new Map<number, Promise<FileHandle>>();

  constructor(readonly parts: readonly PartFile[]) {
    let at = 0;
    this.#starts = parts.map((p) => {
      const s = at;
      at += p.size;
      return s;
    });
    this.size = at;
  }

  #partAt(pos: number): number {
    // parts are few: a linear scan is fine
    let i = 0;
    while (i + 1 < this.parts.length && this.#starts[i + 1]! <= pos) i++;
    return i;
  }

  where(pos: number): string {
    const i = this.#partAt(pos);
    const p = this.parts[i];
    if (!p) return `offset ${pos}`;
    return `${basename(p.path)} at offset ${pos - this.#starts[i]!}`;
  }

  #handle(i: number): Promise<FileHandle> {
    let h = this.#handles.get(i);
    if (!h) {
      h = open(this.parts[i]!.path, 'r');
      h.catch(() => this.#handles.delete(i));
      this.#handles.set(i, h);
    }
    return h;
  }

  async read(pos: number, len: number): Promise<Buffer> {
    if (pos < 0 || pos + len > this.size) {
      throw new AirlockError('LAYOUT', `${this.where(Math.min(pos, this.size))}: read of ${len} bytes past the end of the archive`, { hint: 'the bundle is truncated; copy it again' });
    }
    const out = Buffer.alloc(len);
    let done = 0;
    while (done < len) {
      const at = pos + done;
      const i = this.#partAt(at);
      const inPart = at - this.#starts[i]!;
      const n = Math.min(len - done, this.parts[i]!.size - inPart);
      const fh = await this.#handle(i);
      const { bytesRead } = await fh.read(out, done, n, inPart);
      if (bytesRead !== n) throw new AirlockError('LAYOUT', `${this.where(at)}: the file is shorter than expected`, { hint: 'a part changed while it was read, or is truncated' });
      done += n;
    }
    return out;
  }

  stream(pos: number, len: number): Readable {
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    const pieces: { path: string; start: number; end: number }[] = [];
    let at = pos;
    const stop = pos + len;
    while (at < stop) {
      const i = this.#partAt(at);
      const inPart = at - this.#starts[i]!;
      const n = Math.min(stop - at, this.parts[i]!.size - inPart);
      if (n <= 0) break;
      pieces.push({ path: this.parts[i]!.path, start: inPart, end: inPart + n - 1 });
      at += n;
    }
    const next = (k: number): void => {
      const p = pieces[k];
      if (!p) {
        out.end();
        return;
      }
      const s = createReadStream(p.path, { start: p.start, end: p.end, highWaterMark: 256 * 1024 });
      s.on('error', (e) => out.destroy(e));
      s.on('end', () => next(k + 1));
      s.pipe(out, { end: false });
      out.once('close', () => s.destroy());
    };
    if (len === 0) out.end();
    else next(0);
    return out;
  }

  async close(): Promise<void> {
    const hs = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.all(hs.map((h) => h.then((f) => f.close(), () => undefined)));
  }
}
