/**
 * Reading the containers/image cosign fixtures. Some files there are git symlinks checked out as
 * plain text holding the link target (e.g. `../dir-img-cosign-valid/signature-1`); they are
 * followed here. A link whose target is not shipped (the v2s1 manifest) yields its own bytes.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { SHARED_FIXTURES } from '../../../../test/helpers/fixtures.js';

export const FIXTURES = `${SHARED_FIXTURES}/cosign-containers-image`;

export function readFixture(path: string, depth = 0): { bytes: Buffer; resolvedFrom?: string; danglingLink?: string } {
  const bytes = readFileSync(path);
  const text = bytes.toString('utf8');
  if (depth < 5 && statSync(path).size < 200 && /^\.\.?\/[^\n]+$/.test(text)) {
    const target = resolve(dirname(path), text);
    if (existsSync(target)) return { ...readFixture(target, depth + 1), resolvedFrom: text };
    return { bytes, danglingLink: text };
  }
  return { bytes };
}

const SIGSTORE_JSON_PREFIX = Buffer.from('\x00sigstore-json\n', 'latin1');

const SignatureFileSchema = z.object({
  mimeType: z.string(),
  payload: z.string(),
  annotations: z.record(z.string(), z.string()),
});

export interface SignatureFile {
  mimeType: string;
  payload: Buffer;
  annotations: Record<string, string>;
}

/** containers/image's on-disk sigstore signature: `\x00sigstore-json\n` + JSON{mimeType, payload(b64), annotations}. */
export function parseSignatureFile(bytes: Buffer): SignatureFile {
  if (!bytes.subarray(0, SIGSTORE_JSON_PREFIX.length).equals(SIGSTORE_JSON_PREFIX)) throw new Error('not a sigstore-json signature file');
  const json = SignatureFileSchema.parse(JSON.parse(bytes.subarray(SIGSTORE_JSON_PREFIX.length).toString('utf8')));
  return { mimeType: json.mimeType, payload: Buffer.from(json.payload, 'base64'), annotations: json.annotations };
}

export function readSignature(relPath: string): SignatureFile {
  return parseSignatureFile(readFixture(join(FIXTURES, relPath)).bytes);
}

export function manifestDigest(dir: string): string {
  const { bytes } = readFixture(join(FIXTURES, dir, 'manifest.json'));
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
