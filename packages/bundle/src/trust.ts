import { AirlockError, mapSettled, type Location, type Registries } from '@airlock/oci';
import type { Rule } from '@airlock/verification';
import type { ImageJob } from './create.js';

/**
 * Signatures, through the sign and verify packages' own entry points (loaded only when used, so a
 * plain `bundle load` does not parse the sigstore libraries): the inventory is signed as
 * `sign-blob --bundle` does and checked as `verify-blob --bundle` does; --require-signature is
 * `airlock verify` (keys or a policy) run against each image at its source before it is bundled.
 */

/**
 * Load the cosign private key now (a wrong password fails before any image is read) and return
 * what signs the inventory: a Sigstore bundle (JSON) over its bytes.
 */
export async function inventorySigner(keyFile: string, passwordFile: string | undefined): Promise<(inventory: Buffer) => Buffer> {
  const [{ loadPrivateKey, keyPassword, cosignToAirlock }, { buildKeyBlobBundle }] = await Promise.all([import('@airlock/signing'), import('@airlock/cosign')]);
  const pair = await loadPrivateKey(keyFile, await keyPassword({ ...(passwordFile ? { passwordFile } : {}) }));
  return (inventory) => {
    try {
      return Buffer.from(`${JSON.stringify(buildKeyBlobBundle({ privateKey: pair.privateKey, artifact: inventory }))}\n`);
    } catch (e) {
      throw cosignToAirlock(e, `signing the inventory with ${keyFile}`);
    }
  };
}

/** Check the inventory's signature with any of the keys; throws (exit 1) when none verifies. */
export async function verifyInventorySignature(inventory: Buffer, signature: Buffer | undefined, keys: string[], what: string): Promise<string> {
  if (!signature) {
    throw new AirlockError('DIGEST_MISMATCH', `${what} is not signed, and --key asks for a signature`, { hint: 'create the bundle with --sign-key, or leave out --key to skip the check' });
  }
  const [{ loadKey }, { verifyBlob, isAirlockCosignError }] = await Promise.all([import('@airlock/verification'), import('@airlock/cosign')]);
  const reasons: string[] = [];
  for (const k of keys) {
    const key = await loadKey(k);
    try {
      verifyBlob({ artifact: inventory, bundleJson: signature, publicKey: key.key, ignoreTlog: true });
      return k;
    } catch (e) {
      if (!isAirlockCosignError(e)) throw e;
      reasons.push(`${k}: ${e.message}`);
    }
  }
  throw new AirlockError('DIGEST_MISMATCH', `${what}: the inventory's signature does not verify (${reasons.join('; ')})`, {
    hint: 'the bundle was altered or signed with another key: do not load it',
  });
}

export interface SignatureCheck {
  name: string;
  ok: boolean;
  failures: string[];
}

/** --require-signature: verify every image at its source, as `airlock verify` would. */
export async function checkSignatures(jobs: ImageJob[], opts: { keys: string[]; policy?: string; registries: Registries; concurrency: number }): Promise<SignatureCheck[]> {
  const v = await import('@airlock/verification');
  let ruleFor: (loc: Location) => { entry: Rule } | undefined;
  if (opts.policy) {
    if (opts.keys.length) throw new AirlockError('USAGE', '--policy names the signers itself: it cannot be combined with --key', { hint: 'put the keys in the policy file' });
    const policy = await v.loadPolicy(opts.policy);
    ruleFor = (loc) => v.matchEntry(policy.rules, v.matchName(loc));
  } else {
    const signers = await v.signersFromFlags({ keys: opts.keys });
    if (!signers.length) throw new AirlockError('USAGE', '--require-signature needs --key FILE or --policy FILE', { hint: 'see airlock bundle create --help' });
    const rule: Rule = { name: 'command line', signatures: { allOf: [], anyOf: signers }, attestations: [], identity: { ignore: false, rewrites: [] } };
    ruleFor = () => ({ entry: rule });
  }
  const settled = await mapSettled(jobs, Math.max(1, Math.min(opts.concurrency, 8)), async (job): Promise<SignatureCheck> => {
    const rule = ruleFor(job.source);
    if (!rule) return { name: job.name, ok: false, failures: [`no entry of the policy ${opts.policy} matches ${v.matchName(job.source)}`] };
    const r = await v.verifyImage({ input: job.input, reference: job.input, location: job.source, where: job.where }, rule.entry, { registries: opts.registries });
    return { name: job.name, ok: r.ok, failures: r.failures };
  });
  return settled.map((s, i) => (s.status === 'fulfilled' ? s.value : { name: jobs[i]!.name, ok: false, failures: [(s.reason as Error).message] }));
}
