/**
 * Verification policy files (YAML): per registry/repository glob, which keys or keyless identities
 * must have signed (allOf / anyOf), how the signed docker-reference is matched after mirroring, and
 * which attestations must exist (with optional equality checks on statement fields).
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { AirlockError, normaliseName } from '@airlock/oci';
// Its own entry point: the step-kit barrel does not carry the YAML parser into bundles that never read YAML (sign).
import { parseYamlDocument } from '@airlock/step-kit/yaml';
import { isAirlockCosignError, resolvePredicateType } from '@airlock/cosign';
import { normaliseFieldPath } from './fields.js';
import { globsOf } from './glob.js';
import { policySchema, type PolicySpec, type SignerSpec } from './policy-schema.js';
import { keylessSigner, loadKey, loadTrustedRoot, publicGoodRoot, type Signer, type TrustRoot } from './trust.js';

// Moved to their own modules; re-exported here so imports from policy.ts keep working.
export { deepEqual, fieldMismatches, normaliseFieldPath, valueAt } from './fields.js';
export { globMatches, globToRegExp, matchEntry } from './glob.js';
// The schema lives beside the types it yields, in policy-schema.ts.
export { attestationRequirementSchema, policyEntrySchema, policySchema, signerSchema } from './policy-schema.js';
export type { PolicyEntrySpec, PolicySpec, SignerSpec } from './policy-schema.js';

function policyError(file: string, msg: string, hint = 'see airlock verify --help or packages/verify/README.md for the policy format'): AirlockError {
  return new AirlockError('BAD_INPUT', `${file}: ${msg}`, { hint });
}

/** Parse and validate policy YAML (no files are read). */
export function parsePolicy(text: string, file: string): PolicySpec {
  const spec = parseYamlDocument(text, policySchema, 'policy', (msg) => policyError(file, msg));
  spec.policies.forEach((p, n) => {
    for (const [i, a] of (p.attestations ?? []).entries()) {
      try {
        resolvePredicateType(a.type);
      } catch (e) {
        if (isAirlockCosignError(e)) throw policyError(file, `invalid policy at policies.${n}.attestations.${i}.type: ${e.message}`, e.hint);
        throw e;
      }
    }
    for (const g of globsOf(p.match)) {
      if (/\*\*\*/.test(g)) throw policyError(file, `invalid policy at policies.${n}.match: "${g}" is not a valid glob`);
    }
  });
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Rules: a policy entry with its keys and roots loaded

export interface AttestationRequirement {
  /** Predicate type URI; undefined = any type. */
  type?: string;
  /** As written (alias or URI), for messages. */
  label: string;
  /** Any of these may have signed it. */
  signers: Signer[];
  /** Normalised dotted paths (from the statement root) → expected values. */
  fields: Record<string, unknown>;
}

export interface IdentityRule {
  ignore: boolean;
  reference?: string;
  /** `[from, to]`, OLD normalised (docker.io names in cosign's index.docker.io form too). */
  rewrites: [string, string][];
}

export interface Rule {
  name: string;
  signatures?: { allOf: Signer[]; anyOf: Signer[] };
  attestations: AttestationRequirement[];
  identity: IdentityRule;
}

/** Parse `OLD=NEW` (an --identity-rewrite or a policy identity.rewrite item). */
export function parseIdentityRewrite(s: string, where = '--identity-rewrite'): [string, string][] {
  const i = s.indexOf('=');
  if (i <= 0 || i === s.length - 1) {
    throw new AirlockError('USAGE', `invalid ${where} "${s}": expected OLD=NEW`, { hint: 'write OLD=NEW, e.g. ghcr.io/acme=registry.local/acme' });
  }
  const from = s.slice(0, i).replace(/\/+$/, '');
  const to = s.slice(i + 1).replace(/\/+$/, '');
  const n = normaliseName(from);
  const forms = new Set([from, n, n.replace(/^docker\.io(?=\/|$)/, 'index.docker.io')]);
  return [...forms].map((f) => [f, to] as [string, string]);
}

export interface LoadedPolicy {
  file: string;
  spec: PolicySpec;
  /** Rules in file order, each with its globs. */
  rules: Array<Rule & { match: string[] }>;
}

/** Read, validate and load a policy file: keys and trusted roots are read relative to it (exit 2 on any problem). */
export async function loadPolicy(file: string): Promise<LoadedPolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw policyError(file, `cannot read the policy file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check the path given to --policy');
  }
  return buildPolicy(parsePolicy(text, file), file);
}

/** Load a parsed policy: resolve paths against the policy file's directory. */
export async function buildPolicy(spec: PolicySpec, file: string): Promise<LoadedPolicy> {
  const base = dirname(resolve(file));
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const keys = new Map<string, Promise<Signer>>();
  const roots = new Map<string, Promise<TrustRoot>>();
  const root = (p: string | undefined): Promise<TrustRoot> => {
    if (p === undefined) return Promise.resolve(publicGoodRoot());
    const abs = rel(p);
    let r = roots.get(abs);
    if (!r) {
      r = loadTrustedRoot(abs, p);
      roots.set(abs, r);
    }
    return r;
  };
  const defaultRoot = spec.trustedRoot;
  const signerOf = async (s: SignerSpec, where: string): Promise<Signer> => {
    if (s.key !== undefined) {
      const abs = rel(s.key);
      const cacheKey = `${abs}\0${s.name ?? ''}`;
      let k = keys.get(cacheKey);
      if (!k) {
        k = loadKey(abs, s.name ?? s.key).then((signer) => signer);
        keys.set(cacheKey, k);
      }
      return k;
    }
    const signer = keylessSigner(
      {
        ...(s.identity !== undefined ? { identity: s.identity } : {}),
        ...(s.identityRegexp !== undefined ? { identityRegexp: s.identityRegexp } : {}),
        ...(s.issuer !== undefined ? { issuer: s.issuer } : {}),
        ...(s.issuerRegexp !== undefined ? { issuerRegexp: s.issuerRegexp } : {}),
      },
      await root(s.trustedRoot ?? defaultRoot),
      `${file} ${where}`,
    );
    return s.name ? { ...signer, name: s.name } : signer;
  };
  const wrap = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      if (e instanceof AirlockError && !e.message.startsWith(file)) throw new AirlockError('BAD_INPUT', `${file}: ${e.message}`, e.hint ? { hint: e.hint } : {});
      throw e;
    }
  };
  const rules: LoadedPolicy['rules'] = [];
  for (const [n, e] of spec.policies.entries()) {
    const where = `policies.${n}`;
    const allOf = await wrap(Promise.all((e.signatures?.allOf ?? []).map((s, i) => signerOf(s, `${where}.signatures.allOf.${i}`))));
    const anyOf = await wrap(Promise.all((e.signatures?.anyOf ?? []).map((s, i) => signerOf(s, `${where}.signatures.anyOf.${i}`))));
    const defaultSigners = [...allOf, ...anyOf];
    const attestations: AttestationRequirement[] = [];
    for (const [i, a] of (e.attestations ?? []).entries()) {
      const signers = a.signers ? await wrap(Promise.all(a.signers.map((s, j) => signerOf(s, `${where}.attestations.${i}.signers.${j}`)))) : defaultSigners;
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(a.fields ?? {})) fields[normaliseFieldPath(k)] = v;
      attestations.push({ type: resolvePredicateType(a.type), label: a.type, signers, fields });
    }
    const rewrites = (e.identity?.rewrite ?? []).flatMap((r, i) => {
      try {
        return parseIdentityRewrite(r, `identity.rewrite`);
      } catch (err) {
        throw policyError(file, `invalid policy at ${where}.identity.rewrite.${i}: ${(err as Error).message}`);
      }
    });
    const globs = globsOf(e.match);
    rules.push({
      name: e.name ?? `${where} (${globs.join(', ')})`,
      match: globs,
      ...(e.signatures ? { signatures: { allOf, anyOf } } : {}),
      attestations,
      identity: { ignore: e.identity?.ignore ?? false, ...(e.identity?.reference ? { reference: e.identity.reference } : {}), rewrites },
    });
  }
  return { file, spec, rules };
}
