import { AirlockError } from '@airlock/oci';
import { matchName, type Target } from './engine.js';
import { matchEntry } from './glob.js';
import { loadPolicy, parseIdentityRewrite, type LoadedPolicy, type Rule } from './policy.js';
import type { RuleFor, RunOptions } from './run.js';
import { hasKeylessFlags, signersFromFlags, trustFlags } from './trust.js';

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

export function noMatch(policy: LoadedPolicy, t: Target): string {
  return `no entry of the policy ${policy.file} matches ${matchName(t.location)}`;
}

/** --identity, --identity-rewrite, --ignore-identity. */
export function identityFlags(opts: Record<string, unknown>): RunOptions['identity'] {
  const rewrites = list(opts.identityRewrite).flatMap((r) => parseIdentityRewrite(r));
  return {
    ...(opts.ignoreIdentity ? { ignore: true } : {}),
    ...(opts.identity ? { reference: String(opts.identity) } : {}),
    ...(rewrites.length ? { rewrites } : {}),
  };
}

export interface SignatureRules {
  identity: RunOptions['identity'];
  policyFile?: string;
  /** Load the keys, roots or policy: the rule for each image, and notes to print once. */
  load(): Promise<{ ruleFor: RuleFor; notes: string[] }>;
}

/**
 * Who must have signed, from verify's options (--key, --trusted-root, --certificate-*, --policy,
 * identity options): what `airlock verify` checks, and the gate of `airlock deploy-image`. Option
 * conflicts are found now (usage errors); keys and policies are read by `load()`.
 */
export function signatureRules(opts: Record<string, unknown>, command = 'verify'): SignatureRules {
  const flags = trustFlags(opts);
  const policyFile = opts.policy ? String(opts.policy) : undefined;
  if (policyFile && (flags.keys.length || hasKeylessFlags(flags) || flags.trustedRoot)) {
    throw new AirlockError('USAGE', '--policy names the signers itself: it cannot be combined with --key, --trusted-root or --certificate-*', { hint: 'put the keys and identities in the policy file' });
  }
  const identity = identityFlags(opts);
  return {
    identity,
    ...(policyFile ? { policyFile } : {}),
    async load() {
      const notes: string[] = [];
      if (policyFile) {
        const policy = await loadPolicy(policyFile);
        return { ruleFor: (t: Target) => matchEntry(policy.rules, matchName(t.location))?.entry ?? noMatch(policy, t), notes };
      }
      const signers = await signersFromFlags(flags, (n) => notes.push(n));
      if (!signers.length) {
        throw new AirlockError('USAGE', `${command} needs --key FILE, keyless --certificate-identity[-regexp] + --certificate-oidc-issuer[-regexp], or --policy FILE`, { hint: `see airlock ${command} --help` });
      }
      const rule: Rule = { name: 'command line', signatures: { allOf: [], anyOf: signers }, attestations: [], identity: { ignore: false, rewrites: [] } };
      return { ruleFor: () => rule, notes };
    },
  };
}
