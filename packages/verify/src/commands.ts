import { registriesFrom, transferFlags } from '@airlock/step-kit';
import { readImageList, type ImageListEntry } from '@airlock/step-kit/image-list';
import { AirlockError, parseLocation, repositoryName, withDigest, withTag, type Location } from '@airlock/oci';
import { isAirlockCosignError, resolvePredicateType } from '@airlock/cosign';
import { commandFor } from '@airlock/step-kit';
import type { Command } from 'commander';
import {
  hasKeylessFlags,
  loadPolicy,
  matchEntry,
  matchName,
  parseIdentityRewrite,
  runVerification,
  runVerifyBlob,
  signersFromFlags,
  trustFlags,
  type LoadedPolicy,
  type Rule,
  type RunIo,
  type RunOptions,
  type Signer,
  type Target,
} from '@airlock/verification';
import { verifyAttestationStep, verifyBlobStep, verifyStep } from './inputs.js';

/** The exit code chosen by a command; the CLI edge calls process.exit with it. */
export type SetExit = (code: number) => void;

const defaultIo = (): RunIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

/** A mirror-list line as a target: its DESTINATION (tag defaulting to the source's), else its SOURCE. */
export function targetFromEntry(e: ImageListEntry): Target {
  try {
    const source = parseLocation(e.source);
    if (!e.destination) return { input: e.source, reference: e.source, location: source, where: e.where };
    let dest: Location = parseLocation(e.destination, { defaultTag: false });
    if (dest.kind === 'registry' && !dest.ref.tag && !dest.ref.digest && source.kind === 'registry') {
      const ref = source.ref.tag ? withTag(dest.ref, source.ref.tag) : source.ref.digest ? withDigest(dest.ref, source.ref.digest) : withTag(dest.ref, 'latest');
      dest = { kind: 'registry', ref, input: e.destination };
    } else if (dest.kind === 'registry' && !dest.ref.tag && !dest.ref.digest) {
      dest = parseLocation(e.destination);
    } else if (dest.kind === 'layout' && !dest.tag && source.kind === 'registry' && source.ref.tag) {
      dest = { ...dest, tag: source.ref.tag };
    }
    return {
      input: e.source,
      reference: e.destination,
      location: dest,
      // The signature names the upstream repository: the list says this image came from there.
      ...(source.kind === 'registry' ? { alsoAccept: [repositoryName(source.ref)] } : {}),
      where: e.where,
    };
  } catch (err) {
    if (err instanceof AirlockError) throw new AirlockError(err.code, `${e.where}: ${err.message}`, err.hint ? { hint: err.hint } : {});
    throw err;
  }
}

/** REF arguments and/or --file LIST, all parsed before anything is verified (bad input: exit 2). */
async function targetsFrom(args: string[], opts: Record<string, unknown>, command: string): Promise<Target[]> {
  const refs = args.flatMap((a) => (Array.isArray(a) ? a.map(String) : [String(a)]));
  const targets: Target[] = refs.map((r) => ({ input: r, reference: r, location: parseLocation(r) }));
  if (opts.file) targets.push(...(await readImageList(String(opts.file))).map(targetFromEntry));
  if (!targets.length) {
    throw new AirlockError('USAGE', `${command} needs REF... or --file LIST`, { hint: `see airlock ${command} --help` });
  }
  return targets;
}

function identityFlags(opts: Record<string, unknown>): RunOptions['identity'] {
  const rewrites = list(opts.identityRewrite).flatMap((r) => parseIdentityRewrite(r));
  return {
    ...(opts.ignoreIdentity ? { ignore: true } : {}),
    ...(opts.identity ? { reference: String(opts.identity) } : {}),
    ...(rewrites.length ? { rewrites } : {}),
  };
}

function outputFlags(opts: Record<string, unknown>) {
  return {
    json: !!opts.json,
    quiet: !!opts.quiet,
    ...(opts.report ? { report: String(opts.report) } : {}),
    ...(opts.junit ? { junit: String(opts.junit) } : {}),
    ...(opts.dotenv ? { dotenv: String(opts.dotenv) } : {}),
  };
}

function noMatch(policy: LoadedPolicy, t: Target): string {
  return `no entry of the policy ${policy.file} matches ${matchName(t.location)}`;
}

async function withRegistries(opts: Record<string, unknown>, run: (o: Pick<RunOptions, 'registries'>) => Promise<number>): Promise<number> {
  const registries = registriesFrom(transferFlags(opts));
  try {
    return await run({ registries });
  } finally {
    await registries.close();
  }
}

export function buildVerifyCommand(setExit: SetExit): Command {
  return commandFor(verifyStep, async (args, opts) => {
    const flags = trustFlags(opts);
    const policyFile = opts.policy ? String(opts.policy) : undefined;
    if (policyFile && (flags.keys.length || hasKeylessFlags(flags) || flags.trustedRoot)) {
      throw new AirlockError('USAGE', '--policy names the signers itself: it cannot be combined with --key, --trusted-root or --certificate-*', { hint: 'put the keys and identities in the policy file' });
    }
    const identity = identityFlags(opts);
    const targets = await targetsFrom(args, opts, 'verify');
    const notes: string[] = [];
    let ruleFor: (t: Target) => Rule | string;
    if (policyFile) {
      const policy = await loadPolicy(policyFile);
      ruleFor = (t) => matchEntry(policy.rules, matchName(t.location))?.entry ?? noMatch(policy, t);
    } else {
      const signers = await signersFromFlags(flags, (n) => notes.push(n));
      if (!signers.length) {
        throw new AirlockError('USAGE', 'verify needs --key FILE, keyless --certificate-identity[-regexp] + --certificate-oidc-issuer[-regexp], or --policy FILE', { hint: 'see airlock verify --help' });
      }
      const rule: Rule = { name: 'command line', signatures: { allOf: [], anyOf: signers }, attestations: [], identity: { ignore: false, rewrites: [] } };
      ruleFor = () => rule;
    }
    setExit(
      await withRegistries(opts, ({ registries }) =>
        runVerification(targets, ruleFor, { command: 'verify', registries, ...(identity ? { identity } : {}), ...outputFlags(opts), ...(policyFile ? { policyFile } : {}), notes }, defaultIo()),
      ),
    );
  });
}

function predicateType(type: unknown): string | undefined {
  if (type === undefined || type === '') return undefined;
  try {
    return resolvePredicateType(String(type));
  } catch (e) {
    if (isAirlockCosignError(e)) throw new AirlockError('USAGE', `--type: ${e.message}`, { hint: e.hint });
    throw e;
  }
}

export function buildVerifyAttestationCommand(setExit: SetExit): Command {
  return commandFor(verifyAttestationStep, async (args, opts) => {
    const flags = trustFlags(opts);
    const policyFile = opts.policy ? String(opts.policy) : undefined;
    const type = predicateType(opts.type);
    const label = type ? String(opts.type) : 'any';
    const targets = await targetsFrom(args, opts, 'verify-attestation');
    const notes: string[] = [];
    const flagSigners: Signer[] = await signersFromFlags(flags, (n) => notes.push(n));
    let ruleFor: (t: Target) => Rule | string;
    if (policyFile) {
      const policy = await loadPolicy(policyFile);
      ruleFor = (t) => {
        const m = matchEntry(policy.rules, matchName(t.location));
        if (!m) return noMatch(policy, t);
        const e = m.entry;
        let reqs = e.attestations.filter((a) => type === undefined || a.type === type);
        if (!reqs.length && type !== undefined) {
          const signers = flagSigners.length ? flagSigners : e.signatures ? [...e.signatures.allOf, ...e.signatures.anyOf] : [];
          if (!signers.length) return `the policy entry ${e.name} names no signers for ${label} attestations`;
          reqs = [{ type, label, signers, fields: {} }];
        }
        if (!reqs.length) return `the policy entry ${e.name} requires no attestations`;
        if (flagSigners.length) reqs = reqs.map((r) => ({ ...r, signers: flagSigners }));
        return { name: e.name, attestations: reqs, identity: e.identity };
      };
    } else {
      if (!flagSigners.length) {
        throw new AirlockError('USAGE', 'verify-attestation needs --key FILE, keyless --certificate-identity[-regexp] + --certificate-oidc-issuer[-regexp], or --policy FILE', { hint: 'see airlock verify-attestation --help' });
      }
      const rule: Rule = { name: 'command line', attestations: [{ ...(type ? { type } : {}), label, signers: flagSigners, fields: {} }], identity: { ignore: false, rewrites: [] } };
      ruleFor = () => rule;
    }
    setExit(
      await withRegistries(opts, ({ registries }) =>
        runVerification(targets, ruleFor, { command: 'verify-attestation', registries, ...outputFlags(opts), ...(policyFile ? { policyFile } : {}), notes }, defaultIo()),
      ),
    );
  });
}

export function buildVerifyBlobCommand(setExit: SetExit): Command {
  return commandFor(verifyBlobStep, async (args, opts) => {
    const [file] = args;
    if (!file) throw new AirlockError('USAGE', 'verify-blob needs FILE', { hint: 'airlock verify-blob --key cosign.pub --bundle FILE.sigstore.json FILE' });
    setExit(await runVerifyBlob(file, opts, defaultIo()));
  });
}
