import type { Readable } from 'node:stream';
import { AirlockError } from '../errors.js';

/** Read a response body fully, refusing anything larger than `limit` bytes without buffering it. */
export async function readLimited(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    n += b.length;
    if (n > limit) {
      body.destroy();
      throw new AirlockError('MANIFEST_TOO_LARGE', `${what}: larger than ${limit} bytes`, {
        hint: 'registries cap manifests at 4 MiB; this is not a manifest Airlock can copy',
      });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, n);
}

/**
 * Stop reading a body nobody wants any more. An HTTP body destroyed before its end errors (undici:
 * "Request aborted"); that error is the point, not a failure, and must not surface as an
 * unhandled 'error' event that would end the process.
 */
export function discard(body: Readable): void {
  body.on('error', () => undefined);
  if (!body.destroyed) body.destroy();
}

export async function drain(body: Readable | undefined | null): Promise<void> {
  if (!body) return;
  try {
    for await (const _ of body) {
      /* discard */
    }
  } catch {
    /* the connection is being dropped anyway */
  }
}
