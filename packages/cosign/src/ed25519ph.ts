/**
 * Ed25519ph (RFC 8032 §5.1, prehashed with SHA-512, empty context) — the Ed25519 variant cosign's
 * signers use by default for Ed25519 keys. node:crypto exposes only pure Ed25519, so the curve
 * arithmetic is done here with BigInt. Verification works on public data only; signing is not
 * constant-time, which is why the signing API defaults to pure Ed25519 (see sign.ts).
 */
import { createHash, type KeyObject } from 'node:crypto';

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const mod = (a: bigint, m: bigint = P): bigint => {
  const r = a % m;
  return r >= 0n ? r : r + m;
};
function pow(base: bigint, exp: bigint, m: bigint = P): bigint {
  let result = 1n;
  let b = mod(base, m);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}
const inv = (a: bigint): bigint => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const D2 = mod(2n * D);
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

type Point = readonly [bigint, bigint, bigint, bigint]; // extended coordinates X, Y, Z, T
const BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
const BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;
const BASE: Point = [BX, BY, 1n, mod(BX * BY)];
const ZERO: Point = [0n, 1n, 1n, 0n];

function add(p: Point, q: Point): Point {
  const [x1, y1, z1, t1] = p;
  const [x2, y2, z2, t2] = q;
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(t1 * D2 * t2);
  const d = mod(z1 * 2n * z2);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function mul(s: bigint, p: Point): Point {
  let q = ZERO;
  let r = p;
  let k = s;
  while (k > 0n) {
    if (k & 1n) q = add(q, r);
    r = add(r, r);
    k >>= 1n;
  }
  return q;
}

function leToBig(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i] as number);
  return n;
}
function bigToLe(n: bigint, len: number): Buffer {
  const out = Buffer.alloc(len);
  let v = n;
  for (let i = 0; i < len; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function encode(p: Point): Buffer {
  const [x, y, z] = p;
  const zi = inv(z);
  const ax = mod(x * zi);
  const ay = mod(y * zi);
  const out = bigToLe(ay, 32);
  if (ax & 1n) out[31] = (out[31] as number) | 0x80;
  return out;
}

function decode(bytes: Uint8Array): Point | undefined {
  if (bytes.length !== 32) return undefined;
  const sign = ((bytes[31] as number) >> 7) & 1;
  const copy = Buffer.from(bytes);
  copy[31] = (copy[31] as number) & 0x7f;
  const y = leToBig(copy);
  if (y >= P) return undefined;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 !== u) {
    if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
    else return undefined;
  }
  if (x === 0n && sign === 1) return undefined;
  if (Number(x & 1n) !== sign) x = P - x;
  return [x, y, 1n, mod(x * y)];
}

const DOM2 = Buffer.concat([Buffer.from('SigEd25519 no Ed25519 collisions', 'latin1'), Buffer.from([1, 0])]);
const sha512 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha512');
  for (const part of parts) h.update(part);
  return h.digest();
};

function rawKeys(key: KeyObject): { seed?: Buffer; pub: Buffer } {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 key');
  return { pub: Buffer.from(jwk.x, 'base64url'), ...(typeof jwk.d === 'string' ? { seed: Buffer.from(jwk.d, 'base64url') } : {}) };
}

/** Ed25519ph signature over `message` (the SHA-512 prehash is taken here). */
export function signEd25519ph(message: Uint8Array, privateKey: KeyObject): Buffer {
  const { seed, pub } = rawKeys(privateKey);
  if (!seed) throw new Error('an Ed25519 private key is required');
  const h = sha512(seed);
  const a = Buffer.from(h.subarray(0, 32));
  a[0] = (a[0] as number) & 248;
  a[31] = ((a[31] as number) & 127) | 64;
  const s = leToBig(a);
  const ph = sha512(message);
  const r = mod(leToBig(sha512(DOM2, h.subarray(32), ph)), L);
  const R = encode(mul(r, BASE));
  const k = mod(leToBig(sha512(DOM2, R, pub, ph)), L);
  const S = mod(r + k * s, L);
  return Buffer.concat([R, bigToLe(S, 32)]);
}

/** Verify an Ed25519ph signature over `message`. */
export function verifyEd25519ph(message: Uint8Array, signature: Uint8Array, publicKey: KeyObject): boolean {
  if (signature.length !== 64) return false;
  let pub: Buffer;
  try {
    pub = rawKeys(publicKey).pub;
  } catch {
    return false;
  }
  const A = decode(pub);
  const Rb = signature.subarray(0, 32);
  const R = decode(Rb);
  if (!A || !R) return false;
  const S = leToBig(signature.subarray(32));
  if (S >= L) return false;
  const k = mod(leToBig(sha512(DOM2, Rb, pub, sha512(message))), L);
  const negA: Point = [mod(-A[0]), A[1], A[2], mod(-A[3])];
  const check = add(mul(S, BASE), mul(k, negA));
  return encode(check).equals(Buffer.from(Rb));
}
