/**
 * PEM blocks as Go's encoding/pem reads and writes them: `-----BEGIN T-----`, base64 body wrapped
 * at 64 columns, `-----END T-----`, trailing newline.
 */
import { AirlockCosignError } from './errors.js';

export interface PemBlock {
  type: string;
  bytes: Buffer;
}

const BLOCK_RE = /-----BEGIN ([^-\r\n]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Every PEM block in `text`, in order. Blocks with RFC 1421 headers are refused. */
export function decodePemBlocks(text: string | Buffer): PemBlock[] {
  const s = typeof text === 'string' ? text : text.toString('utf8');
  const out: PemBlock[] = [];
  for (const m of s.matchAll(BLOCK_RE)) {
    const type = m[1] ?? '';
    const body = (m[2] ?? '').replace(/\s+/g, '');
    if (!BASE64_RE.test(body) || body.length % 4 !== 0) {
      throw new AirlockCosignError('INVALID_PEM', `PEM block "${type}" has an invalid base64 body`, 'the file is corrupted or truncated; export it again');
    }
    out.push({ type, bytes: Buffer.from(body, 'base64') });
  }
  return out;
}

/** The first PEM block, or a typed error naming what was expected. */
export function decodePem(text: string | Buffer, what: string): PemBlock {
  const blocks = decodePemBlocks(text);
  const first = blocks[0];
  if (!first) {
    throw new AirlockCosignError('INVALID_PEM', `${what} is not PEM-encoded`, `pass a PEM file (-----BEGIN ...-----) containing the ${what}`);
  }
  return first;
}

export function encodePem(type: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${type}-----\n`;
}
