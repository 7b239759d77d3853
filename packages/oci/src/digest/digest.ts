import { createHash, type Hash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { AirlockError } from '../errors.js';
import { noteBytesMoved } from '../util/reclaim.js';

/** An OCI digest such as `sha256:<64 hex>`. */
export type Digest = `${string}:${string}`;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string, what = 'digest'): Digest {
  if (!isDigest(s)) {
    throw new AirlockError('BAD_INPUT', `invalid ${what} "${s}"`, {
      hint: 'a digest is sha256: followed by 64 lowercase hex characters',
    });
  }
  return s;
}

export function algorithmOf(d: Digest): 'sha256' | 'sha512' {
  return d.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function hexOf(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function digestOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/**
 * Wrap a raw source stream in a VerifyingStream. A read failure becomes a typed error naming the
 * source blob; an error before anyone reads stays on the stream (no uncaught exception). Whoever
 * stops reading the result (destroys it) also releases the raw stream (a connection, a file).
 */
export function verifiedStream(src: Readable, desc: { digest: Digest; size: number }, what: string, onReadError: (e: unknown) => AirlockError, onProgress?: (n: number) => void): VerifyingStream {
  const v = new VerifyingStream(desc.digest, desc.size, what, onProgress);
  src.on('error', (e) => v.fail(e instanceof AirlockError ? e : onReadError(e)));
  v.on('error', () => undefined);
  v.on('close', () => {
    if (!src.destroyed && !src.readableEnded) src.destroy();
  });
  return src.pipe(v);
}

/**
 * The source's own failure behind a stream opened by `ContentSource.openBlob`: a read that failed or
 * content that did not verify. Undefined when the stream is fine or was stopped by its consumer (a
 * full disk, a refused upload): that failure is the destination's.
 */
export function sourceFaultOf(stream: unknown): AirlockError | undefined {
  return stream instanceof VerifyingStream ? stream.sourceFault : undefined;
}

export function verifyBytes(bytes: Uint8Array, expected: Digest, what: string): void {
  const actual = digestOf(bytes, algorithmOf(expected));
  if (actual !== expected) {
    throw new AirlockError('DIGEST_MISMATCH', `${what}: content digest ${actual} does not match expected ${expected}`, {
      hint: 'the source served corrupted or tampered content; nothing was written',
    });
  }
}

/**
 * A pass-through stream that hashes what flows through it and fails when the size or digest
 * differs from what was expected. The last chunk is held until the digest is checked, so a
 * consumer never receives a whole corrupted blob (an upload with a Content-Length never
 * completes), and one that commits only on a clean end (temp file + rename, upload PUT) never
 * commits bad bytes.
 */
export class VerifyingStream extends Transform {
  readonly #hash: Hash;
  #seen = 0;
  /** Set when the content itself failed: a read error of the source, wrong size or digest. */
  sourceFault: AirlockError | undefined;

  constructor(
    readonly expected: Digest,
    readonly expectedSize: number | undefined,
    readonly what: string,
    readonly onProgress?: (bytes: number) => void,
  ) {
    // Larger buffers than Node's 16 KiB default: fewer async hops per megabyte on big layers, still
    // a fixed amount of memory per stream.
    super({ highWaterMark: 256 * 1024 });
    this.#hash = createHash(algorithmOf(expected));
  }

  get bytesSeen(): number {
    return this.#seen;
  }

  /** Fail with a fault of the source (its read failed): recorded, then the stream is destroyed. */
  fail(e: AirlockError): void {
    this.sourceFault ??= e;
    this.destroy(e);
  }

  #fault(e: AirlockError | null): AirlockError | null {
    if (e) this.sourceFault ??= e;
    return e;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.expectedSize !== undefined && this.#seen > this.expectedSize) {
      cb(
        this.#fault(
          new AirlockError('DIGEST_MISMATCH', `${this.what}: more than the expected ${this.expectedSize} bytes received`, {
            hint: 'the source served content that does not match its descriptor; nothing was written',
          }),
        ),
      );
      return;
    }
    this.#hash.update(chunk);
    this.onProgress?.(chunk.length);
    // The read buffers this stream has consumed are garbage: have them released as it goes.
    noteBytesMoved(chunk.length);
    // Everything arrived: check before the last chunk leaves.
    cb(this.#seen === this.expectedSize ? this.#fault(this.#check()) : null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    cb(this.#seen === this.expectedSize ? null : this.#fault(this.#check()));
  }

  #check(): AirlockError | null {
    if (this.expectedSize !== undefined && this.#seen !== this.expectedSize) {
      return new AirlockError('DIGEST_MISMATCH', `${this.what}: received ${this.#seen} bytes, expected ${this.expectedSize}`, {
        hint: 'the transfer was truncated or the source is corrupt; nothing was written',
      });
    }
    const actual = `${algorithmOf(this.expected)}:${this.#hash.digest('hex')}`;
    if (actual !== this.expected) {
      return new AirlockError('DIGEST_MISMATCH', `${this.what}: content digest ${actual} does not match ${this.expected}`, {
        hint: 'the source served corrupted or tampered content; nothing was written',
      });
    }
    return null;
  }
}
