import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { type Digest, VerifyingStream } from '../src/digest/digest.js';
import { AirlockError } from '../src/errors.js';

const digestOf = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Stream `bytes` in 64 KiB chunks through a VerifyingStream; report what the consumer received. */
async function passThrough(bytes: Buffer, expected: Digest, size: number | undefined): Promise<{ received: number; error?: AirlockError }> {
  const chunks = Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536));
  let received = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      cb();
    },
  });
  try {
    await pipeline(Readable.from(chunks), new VerifyingStream(expected, size, 'blob'), sink);
    return { received };
  } catch (e) {
    return { received, error: e as AirlockError };
  }
}

describe('VerifyingStream', () => {
  const blob = randomBytes(1024 * 1024 + 123);

  it('passes the exact bytes of a blob that matches', async () => {
    expect(await passThrough(blob, digestOf(blob), blob.length)).toEqual({ received: blob.length });
    expect(await passThrough(blob, digestOf(blob), undefined)).toEqual({ received: blob.length });
  });

  it('never hands on a whole corrupted blob: the last chunk waits for the digest check', async () => {
    const bad = Buffer.from(blob);
    bad[100]! ^= 1;
    const r = await passThrough(bad, digestOf(blob), blob.length);
    expect(r.error?.code).toBe('DIGEST_MISMATCH');
    expect(r.error?.message).toMatch(/does not match/);
    // An upload with Content-Length: size can therefore never complete with these bytes.
    expect(r.received).toBeLessThan(blob.length);
  });

  it('refuses too many and too few bytes, naming the sizes', async () => {
    const longer = await passThrough(Buffer.concat([blob, Buffer.from('x')]), digestOf(blob), blob.length);
    expect(longer.error?.code).toBe('DIGEST_MISMATCH');
    expect(longer.error?.message).toMatch(/more than the expected/);
    expect(longer.received).toBeLessThan(blob.length);
    const shorter = await passThrough(blob.subarray(0, 5000), digestOf(blob), blob.length);
    expect(shorter.error?.message).toMatch(/received 5000 bytes, expected/);
  });
});
