import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Pack } from 'tar-stream';
import { AirlockError } from '../errors.js';

/**
 * A tar written deterministically and atomically: every entry a regular file with mode 0644,
 * mtime 0, uid/gid 0 and empty owner names, in the order the caller adds them; written to a temp
 * name beside the target and renamed only when complete. The same entries give the same bytes.
 */
export class DeterministicTar {
  readonly #pack: Pack;
  readonly #out: WriteStream;
  readonly #done: Promise<void>;
  #failed: unknown;

  private constructor(
    readonly path: string,
    readonly tmp: string,
  ) {
    this.#pack = pack();
    this.#out = createWriteStream(tmp, { flags: 'wx' });
    this.#done = pipeline(this.#pack, this.#out).catch((e: unknown) => {
      this.#failed = e;
      throw e;
    });
    this.#done.catch(() => undefined);
  }

  static create(path: string): DeterministicTar {
    return new DeterministicTar(path, `${path}.tmp-${randomBytes(6).toString('hex')}`);
  }

  #header(name: string, size: number) {
    return { name, size, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', type: 'file' as const };
  }

  /** Add an entry from bytes. */
  async addBytes(name: string, bytes: Buffer): Promise<void> {
    this.#check();
    await new Promise<void>((resolve, reject) => {
      const entry = this.#pack.entry(this.#header(name, bytes.length), bytes, (e) => (e ? reject(e) : resolve()));
      (entry as unknown as NodeJS.EventEmitter).on('error', reject);
    });
  }

  /** Add an entry of exactly `size` bytes from a stream (a size mismatch fails the archive). */
  async addStream(name: string, size: number, content: Readable): Promise<void> {
    this.#check();
    await new Promise<void>((resolve, reject) => {
      const entry = this.#pack.entry(this.#header(name, size), (e) => (e ? reject(e) : resolve()));
      // A short or long stream fails the entry ("Size mismatch"): the archive is abandoned.
      (entry as unknown as NodeJS.EventEmitter).on('error', reject);
      content.on('error', (e) => {
        entry.destroy(e);
        reject(e);
      });
      content.pipe(entry as unknown as NodeJS.WritableStream);
    });
  }

  #check(): void {
    if (this.#failed) throw this.#failed;
  }

  /** Write the end of the archive and move it into place. */
  async finish(): Promise<void> {
    this.#pack.finalize();
    try {
      await this.#done;
      await rename(this.tmp, this.path);
    } catch (e) {
      await unlink(this.tmp).catch(() => undefined);
      throw new AirlockError('LAYOUT', `writing ${this.path} failed: ${(e as Error).message}`, { hint: 'check free space and permissions where the archive is written', cause: e });
    }
  }

  /** Give up: nothing is left behind. */
  async abort(): Promise<void> {
    this.#pack.destroy();
    this.#out.destroy();
    await this.#done.catch(() => undefined);
    await unlink(this.tmp).catch(() => undefined);
  }
}
