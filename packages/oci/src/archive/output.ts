import { createHash, randomBytes, type Hash } from 'node:crypto';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AirlockError } from '../errors.js';

/**
 * Where a bundle's bytes go: one file, or parts of at most `splitSize` bytes (`FILE.001`, …). Every
 * file is written under a temp name and renamed only when the whole archive is complete, so a
 * reader never sees half a bundle; `abort()` removes what was written. Each part and the whole are
 * hashed as they are written (no second read).
 */

export interface WrittenPart {
  path: string;
  name: string;
  size: number;
  sha256: string;
}

export interface WrittenBundle {
  /** The file, or each part in order. */
  parts: WrittenPart[];
  size: number;
  sha256: string;
  split: boolean;
}

export function partName(file: string, n: number): string {
  return `${file}.${String(n).padStart(3, '0')}`;
}

export class ArchiveOutput {
  readonly #tag = randomBytes(6).toString('hex');
  readonly #whole = createHash('sha256');
  readonly #parts: { final: string; tmp: string; fh: FileHandle; hash: Hash; size: number }[] = [];
  #size = 0;
  #closed = false;

  constructor(
    readonly file: string,
    readonly splitSize?: number,
  ) {}

  async #openPart(): Promise<void> {
    const final = this.splitSize ? partName(this.file, this.#parts.length + 1) : this.file;
    const tmp = `${final}.tmp-${this.#tag}`;
    let fh: FileHandle;
    try {
      fh = await open(tmp, 'wx');
    } catch (e) {
      throw new AirlockError('BAD_INPUT', `cannot write ${final}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'check that the output directory exists and is writable', cause: e });
    }
    this.#parts.push({ final, tmp, fh, hash: createHash('sha256'), size: 0 });
  }

  async write(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length) {
      let part = this.#parts[this.#parts.length - 1];
      if (!part || (this.splitSize && part.size >= this.splitSize)) {
        await this.#openPart();
        part = this.#parts[this.#parts.length - 1]!;
      }
      const room = this.splitSize ? this.splitSize - part.size : rest.length;
      const piece = rest.subarray(0, room);
      rest = rest.subarray(piece.length);
      let off = 0;
      while (off < piece.length) {
        const { bytesWritten } = await part.fh.write(piece, off, piece.length - off);
        off += bytesWritten;
      }
      part.hash.update(piece);
      this.#whole.update(piece);
      part.size += piece.length;
      this.#size += piece.length;
    }
  }

  /** Flush, rename every part into place; stale higher-numbered parts of an earlier bundle are removed. */
  async commit(): Promise<WrittenBundle> {
    if (!this.#parts.length) await this.#openPart();
    for (const p of this.#parts) {
      await p.fh.sync();
      await p.fh.close();
    }
    this.#closed = true;
    for (const p of this.#parts) await rename(p.tmp, p.final);
    if (this.splitSize) await this.#removeStaleParts(this.#parts.length);
    return {
      parts: this.#parts.map((p) => ({ path: p.final, name: basename(p.final), size: p.size, sha256: p.hash.digest('hex') })),
      size: this.#size,
      sha256: this.#whole.digest('hex'),
      split: !!this.splitSize,
    };
  }

  async abort(): Promise<void> {
    for (const p of this.#parts) {
      if (!this.#closed) await p.fh.close().catch(() => undefined);
      await unlink(p.tmp).catch(() => undefined);
    }
    this.#closed = true;
  }

  async #removeStaleParts(count: number): Promise<void> {
    const dir = dirname(this.file);
    const base = basename(this.file);
    const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d{3,})$`);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const m = re.exec(name);
      if (m && Number(m[1]) > count) await unlink(join(dir, name)).catch(() => undefined);
    }
  }
}
