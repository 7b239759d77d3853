import { Readable } from 'node:stream';
import type { ContentSink, ContentSource } from '../content/types.js';
import { type Digest, digestOf } from '../digest/digest.js';
import { AirlockError } from '../errors.js';
import type { Descriptor } from '../manifest/schema.js';
import { readLimited } from '../util/body.js';

/** Attachments (signatures, bundles, SBOMs) are small documents; refuse anything absurd. */
export const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024;

/** Read a small blob fully, verified against its descriptor. */
export async function readBlobBytes(source: ContentSource, desc: Descriptor, limit = MAX_ATTACHMENT_BYTES): Promise<Buffer> {
  if (desc.size > limit) {
    throw new AirlockError('BAD_INPUT', `${source.name}@${desc.digest}: attachment of ${desc.size} bytes is larger than ${limit}`, {
      hint: 'signatures, bundles and SBOMs are small; this is not one',
    });
  }
  return readLimited(await source.openBlob(desc), limit, `${source.name}@${desc.digest}`);
}

export interface BlobBytes {
  bytes: Buffer;
  mediaType: string;
  annotations?: Record<string, string>;
}

export function descriptorForBytes(b: BlobBytes): Descriptor {
  return {
    mediaType: b.mediaType,
    digest: digestOf(b.bytes),
    size: b.bytes.length,
    ...(b.annotations && Object.keys(b.annotations).length ? { annotations: b.annotations } : {}),
  };
}

/** Push a small blob unless the sink has it. */
export async function pushBlobBytes(sink: ContentSink, bytes: Buffer, mediaType: string): Promise<Descriptor> {
  const desc: Descriptor = { mediaType, digest: digestOf(bytes) as Digest, size: bytes.length };
  if (!(await sink.hasBlob(desc))) await sink.pushBlob(desc, async () => Readable.from([bytes]), {});
  return desc;
}
