import type { Readable } from 'node:stream';

/** Read a small response body (config blobs, error documents), refusing more than `limit` bytes. */
export async function readSmall(body: Readable, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += (c as Buffer).length;
    if (n > limit) {
      body.destroy();
      throw new Error(`body larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function discard(body: Readable): Promise<void> {
  try {
    for await (const _ of body) {
      /* discard */
    }
  } catch {
    /* the connection goes away anyway */
  }
}
