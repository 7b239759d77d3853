/** Just enough DER reading to tell key encodings apart. */
export interface Tlv {
  tag: number;
  /** Offset of the value's first byte. */
  start: number;
  /** Offset just past the value. */
  end: number;
}

/** Read one TLV at `offset`, or undefined if the bytes are not well-formed DER there. */
export function readTlv(buf: Uint8Array, offset: number): Tlv | undefined {
  if (offset + 2 > buf.length) return undefined;
  const tag = buf[offset] as number;
  let len = buf[offset + 1] as number;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] as number);
    start += n;
  }
  const end = start + len;
  if (end > buf.length) return undefined;
  return { tag, start, end };
}

/** The TLVs directly inside the constructed value `outer`. */
export function children(buf: Uint8Array, outer: Tlv): Tlv[] | undefined {
  const out: Tlv[] = [];
  let off = outer.start;
  while (off < outer.end) {
    const t = readTlv(buf, off);
    if (!t || t.end > outer.end) return undefined;
    out.push(t);
    off = t.end;
  }
  return out;
}

export type PrivateKeyDerKind = 'pkcs8' | 'sec1' | 'pkcs1' | 'unknown';

/**
 * Classify a private key's DER: PKCS#8 PrivateKeyInfo is SEQUENCE { INTEGER, SEQUENCE, OCTET STRING },
 * SEC1 ECPrivateKey is SEQUENCE { INTEGER 1, OCTET STRING, [0]?, [1]? }, PKCS#1 RSAPrivateKey is
 * SEQUENCE { INTEGER 0, INTEGER n, INTEGER e, ... }.
 */
export function classifyPrivateKeyDer(der: Uint8Array): PrivateKeyDerKind {
  const top = readTlv(der, 0);
  if (!top || top.tag !== 0x30 || top.end !== der.length) return 'unknown';
  const kids = children(der, top);
  if (!kids || kids.length < 2) return 'unknown';
  const [a, b, c] = kids;
  if (a?.tag !== 0x02) return 'unknown';
  if (b?.tag === 0x30 && c?.tag === 0x04) return 'pkcs8';
  if (b?.tag === 0x04) return 'sec1';
  if (b?.tag === 0x02 && c?.tag === 0x02) return 'pkcs1';
  return 'unknown';
}
