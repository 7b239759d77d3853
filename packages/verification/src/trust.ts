import type { KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AirlockError } from '@airlock/oci';
import {
  isAirlockCosignError,
  parseTrustedRootJson,
  publicGoodTrustedRoot,
  readCertificates,
  readPublicKey,
  tlogKeysFromTrustedRoot,
  type TlogKey,
  type TrustedRootJson,
} from '@airlock/cosign';

/** Trust material for keyless signatures: the trusted root, and what the legacy path needs from it. */
export interface TrustRoot {
  /** Where it came from, for messages: a file path or "public-good (built in)". */
  source: string;
  json: TrustedRootJson;
  /** Fulcio CA roots and intermediates (for legacy certificate signatures). */
  roots: X509Certificate[];
  intermediates: X509Certificate[];
  /** Rekor keys (for legacy `dev.sigstore.cosign/bundle` SETs). */
  tlogKeys: TlogKey[];
}

export interface KeySigner {
  kind: 'key';
  /** Display name: the key file as given. */
  name: string;
  key: KeyObject;
  /** Optional: check transparency-log material too (bundles' tlog entries, legacy SETs). */
  root?: TrustRoot;
}

export interface KeylessSigner {
  kind: 'keyless';
  name: string;
  /**
   * Your own PKI (--ca-roots): long-lived certificates chaining to your roots, verified at the
   * current time; no Rekor proof or SCT is expected.
   */
  pki?: boolean;
  identity?: string;
  identityRegexp?: RegExp;
  issuer?: string;
  issuerRegexp?: RegExp;
  root: TrustRoot;
}

export type Signer = KeySigner | KeylessSigner;

function inputError(msg: string, hint: string, cause?: unknown): AirlockError {
  return new AirlockError('BAD_INPUT', msg, { hint, ...(cause === undefined ? {} : { cause }) });
}

/** Read a public key file; an unreadable or invalid key is an input error (exit 2). */
export async function loadKey(path: string, displayName = path): Promise<KeySigner> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (e) {
    throw inputError(`cannot read key file ${displayName}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the path given to --key (a PEM public key such as cosign.pub)', e);
  }
  try {
    return { kind: 'key', name: displayName, key: readPublicKey(pem) };
  } catch (e) {
    if (isAirlockCosignError(e)) throw inputError(`key file ${displayName}: ${e.message}`, e.hint, e);
    throw e;
  }
}

function rootFrom(json: TrustedRootJson, source: string): TrustRoot {
  const roots: X509Certificate[] = [];
  const intermediates: X509Certificate[] = [];
  for (const ca of json.certificateAuthorities ?? []) {
    const certs = ca.certChain?.certificates ?? [];
    const pem = certs.map((c) => `-----BEGIN CERTIFICATE-----\n${c.rawBytes}\n-----END CERTIFICATE-----\n`).join('');
    if (!pem) continue;
    const chain = readCertificates(pem);
    // trusted_root.json chains run from the issuing CA to the root.
    const root = chain[chain.length - 1];
    if (root) roots.push(root);
    intermediates.push(...chain.slice(0, -1));
  }
  return { source, json, roots, intermediates, tlogKeys: tlogKeysFromTrustedRoot(json) };
}

/** Read and validate trusted_root.json; problems are input errors (exit 2). */
export async function loadTrustedRoot(path: string, displayName = path): Promise<TrustRoot> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw inputError(`cannot read trusted root ${displayName}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the path given to --trusted-root (a Sigstore trusted_root.json)', e);
  }
  try {
    return rootFrom(parseTrustedRootJson(text), displayName);
  } catch (e) {
    if (isAirlockCosignError(e)) throw inputError(`${displayName}: ${e.message}`, e.hint, e);
    throw e;
  }
}

let publicGood: TrustRoot | undefined;
/** The Sigstore public-good trusted root embedded in airlock (as fresh as the build). */
export function publicGoodRoot(): TrustRoot {
  publicGood ??= rootFrom(publicGoodTrustedRoot(), 'the public-good Sigstore trusted root built into airlock');
  return publicGood;
}

export function compileRegexp(source: string, what: string): RegExp {
  try {
    return new RegExp(source);
  } catch (e) {
    throw inputError(`${what}: invalid regular expression ${JSON.stringify(source)}: ${(e as Error).message}`, 'write a JavaScript/Go-compatible regular expression', e);
  }
}

export interface KeylessSpec {
  identity?: string;
  identityRegexp?: string;
  issuer?: string;
  issuerRegexp?: string;
}

/** Build a keyless signer; an identity and an issuer (exact or regexp) are both required. */
export function keylessSigner(spec: KeylessSpec, root: TrustRoot, where: string): KeylessSigner {
  if (spec.identity === undefined && spec.identityRegexp === undefined) {
    throw new AirlockError('USAGE', `${where}: keyless verification needs a certificate identity`, { hint: 'give --certificate-identity or --certificate-identity-regexp (policy: identity or identityRegexp)' });
  }
  if (spec.issuer === undefined && spec.issuerRegexp === undefined) {
    throw new AirlockError('USAGE', `${where}: keyless verification needs an OIDC issuer`, { hint: 'give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp (policy: issuer or issuerRegexp)' });
  }
  const id = spec.identity ?? `/${spec.identityRegexp}/`;
  const iss = spec.issuer ?? `/${spec.issuerRegexp}/`;
  return {
    kind: 'keyless',
    name: `${id} (issuer ${iss})`,
    ...(spec.identity !== undefined ? { identity: spec.identity } : {}),
    ...(spec.identityRegexp !== undefined ? { identityRegexp: compileRegexp(spec.identityRegexp, where) } : {}),
    ...(spec.issuer !== undefined ? { issuer: spec.issuer } : {}),
    ...(spec.issuerRegexp !== undefined ? { issuerRegexp: compileRegexp(spec.issuerRegexp, where) } : {}),
    root,
  };
}

/** The cosign library's certificate policy options for a keyless signer. */
export function certificatePolicyOf(s: KeylessSigner): {
  certificateIdentity?: string;
  certificateIdentityRegexp?: RegExp;
  certificateIssuer?: string;
  certificateIssuerRegexp?: RegExp;
} {
  return {
    ...(s.identity !== undefined ? { certificateIdentity: s.identity } : {}),
    ...(s.identityRegexp !== undefined ? { certificateIdentityRegexp: s.identityRegexp } : {}),
    ...(s.issuer !== undefined ? { certificateIssuer: s.issuer } : {}),
    ...(s.issuerRegexp !== undefined ? { certificateIssuerRegexp: s.issuerRegexp } : {}),
  };
}

export interface TrustFlags {
  keys: string[];
  trustedRoot?: string;
  caRoots?: string;
  caIntermediates?: string;
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === null || v === '' ? [] : [String(v)]);
const str = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v));

export function trustFlags(o: Record<string, unknown>): TrustFlags {
  const f: TrustFlags = { keys: list(o.key) };
  const set = <K extends keyof TrustFlags>(k: K, v: TrustFlags[K] | undefined) => {
    if (v !== undefined) f[k] = v;
  };
  set('trustedRoot', str(o.trustedRoot));
  set('caRoots', str(o.caRoots));
  set('caIntermediates', str(o.caIntermediates));
  set('certificateIdentity', str(o.certificateIdentity));
  set('certificateIdentityRegexp', str(o.certificateIdentityRegexp));
  set('certificateOidcIssuer', str(o.certificateOidcIssuer));
  set('certificateOidcIssuerRegexp', str(o.certificateOidcIssuerRegexp));
  return f;
}

export function hasKeylessFlags(f: TrustFlags): boolean {
  return f.certificateIdentity !== undefined || f.certificateIdentityRegexp !== undefined || f.certificateOidcIssuer !== undefined || f.certificateOidcIssuerRegexp !== undefined;
}

/**
 * The signers the command line names: each --key (any of them), and/or one keyless identity.
 * With --key, --trusted-root also checks transparency-log material. Returns [] if none given.
 */
export async function signersFromFlags(f: TrustFlags, onNote: (msg: string) => void = () => {}): Promise<Signer[]> {
  const root = f.trustedRoot ? await loadTrustedRoot(f.trustedRoot) : undefined;
  const signers: Signer[] = [];
  for (const k of f.keys) signers.push({ ...(await loadKey(k)), ...(root ? { root } : {}) });
  if (f.caRoots) {
    signers.push(await pkiSigner(f));
  } else if (hasKeylessFlags(f)) {
    const r = root ?? publicGoodRoot();
    if (!root) onNote(`keyless: using ${r.source} (pass --trusted-root for a private Sigstore instance or a fresher root)`);
    signers.push(
      keylessSigner(
        {
          ...(f.certificateIdentity !== undefined ? { identity: f.certificateIdentity } : {}),
          ...(f.certificateIdentityRegexp !== undefined ? { identityRegexp: f.certificateIdentityRegexp } : {}),
          ...(f.certificateOidcIssuer !== undefined ? { issuer: f.certificateOidcIssuer } : {}),
          ...(f.certificateOidcIssuerRegexp !== undefined ? { issuerRegexp: f.certificateOidcIssuerRegexp } : {}),
        },
        r,
        'command line',
      ),
    );
  } else if (f.trustedRoot && !f.keys.length) {
    throw new AirlockError('USAGE', '--trusted-root needs a certificate identity and issuer to verify keyless signatures', {
      hint: 'add --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp], or verify with --key',
    });
  }
  return signers;
}

async function readPemCertificates(file: string, flag: string): Promise<X509Certificate[]> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (e) {
    throw inputError(`cannot read ${flag} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, `check the path given to ${flag} (PEM certificates)`, e);
  }
  try {
    const certs = readCertificates(pem);
    if (!certs.length) throw new Error('no certificate in it');
    return certs;
  } catch (e) {
    throw inputError(`${file}: not PEM certificates (${(e as Error).message})`, `${flag} takes a PEM file of certificates`, e);
  }
}

/**
 * A signer for certificates from your own PKI (cosign's --ca-roots/--ca-intermediates): the chain
 * must reach one of the roots and be valid now; identity and issuer are checked when given.
 */
export async function pkiSigner(f: TrustFlags): Promise<KeylessSigner> {
  const roots = await readPemCertificates(f.caRoots!, '--ca-roots');
  const intermediates = f.caIntermediates ? await readPemCertificates(f.caIntermediates, '--ca-intermediates') : [];
  const json = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    ctlogs: [],
    timestampAuthorities: [],
    certificateAuthorities: roots.map((r) => ({
      subject: { organization: '', commonName: r.subject },
      uri: '',
      certChain: { certificates: [...intermediates, r].map((c) => ({ rawBytes: c.raw.toString('base64') })) },
      validFor: { start: new Date(r.validFrom).toISOString() },
    })),
  } as unknown as TrustedRootJson;
  const regexp = (src: string | undefined, what: string) => (src === undefined ? {} : { [what]: compileRegexp(src, '--certificate-' + what) });
  return {
    kind: 'keyless',
    pki: true,
    name: `certificates from ${f.caRoots}${f.certificateIdentity ? ` for ${f.certificateIdentity}` : ''}`,
    ...(f.certificateIdentity !== undefined ? { identity: f.certificateIdentity } : {}),
    ...regexp(f.certificateIdentityRegexp, 'identityRegexp'),
    ...(f.certificateOidcIssuer !== undefined ? { issuer: f.certificateOidcIssuer } : {}),
    ...regexp(f.certificateOidcIssuerRegexp, 'issuerRegexp'),
    root: { source: f.caRoots!, json, roots, intermediates, tlogKeys: [] },
  };
}
