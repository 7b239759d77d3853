import { readFile, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { buildKeyBlobBundle, signBlobKeyless, signBytes } from '@airlock/cosign';
import { AirlockError, toAirlockError } from '@airlock/oci';
import { commandFor, connectionFlags, Logger, registriesFrom, writeFileAtomic, type StepDef } from '@airlock/step-kit';
import {
  attachSbom,
  attestManifest,
  cosignToAirlock,
  generateKeys,
  identityToken,
  importKeys,
  keyPassword,
  loadPrivateKey,
  manifestsToSign,
  parseAnnotations,
  readPredicate,
  resolveImage,
  signManifest,
  type ResolvedImage,
  type Signer,
  type Written,
} from '@airlock/signing';
import { attachSbomStep, attestStep, keyGenerateStep, keyImportStep, signBlobStep, signStep } from './inputs.js';

type SetExit = (code: number) => void;
type Opts = Record<string, unknown>;

function format(o: Opts): 'legacy' | 'bundle' {
  const f = String(o.format ?? 'legacy');
  if (f !== 'legacy' && f !== 'bundle') throw new AirlockError('USAGE', `--format must be legacy or bundle, got "${f}"`);
  return o.keyless ? 'bundle' : f;
}

/** A key signer (--key) or a keyless one (--keyless); exactly one. */
async function signerFrom(o: Opts): Promise<Signer> {
  if (o.keyless && o.key) throw new AirlockError('USAGE', '--key and --keyless exclude each other');
  if (o.keyless) {
    return {
      kind: 'keyless',
      options: {
        identityToken: await identityToken(o.identityToken as string | undefined),
        fulcioURL: String(o.fulcioUrl),
        ...(o.tlogUpload !== false ? { rekorURL: String(o.rekorUrl) } : {}),
        tlogUpload: o.tlogUpload !== false,
      },
    };
  }
  if (!o.key) throw new AirlockError('USAGE', 'no signing key', { hint: 'pass --key cosign.key, or --keyless' });
  const pair = await loadPrivateKey(String(o.key), await keyPassword({ passwordFile: o.passwordFile as string | undefined }));
  return { kind: 'key', privateKey: pair.privateKey };
}

/**
 * Run an action over each image (and its platform manifests with --recursive), in order; report
 * each result; one failed image fails the command (exit 1) without stopping the others.
 */
async function overImages(step: StepDef, refs: string[], o: Opts, act: (img: ResolvedImage) => Promise<Written[]>): Promise<number> {
  const log = new Logger(process.stderr, process.env, false);
  const registries = registriesFrom(connectionFlags(o));
  const written: Written[] = [];
  const failures: { image: string; error: string }[] = [];
  log.start(`airlock ${step.name}: ${refs.length} image${refs.length === 1 ? '' : 's'}`, false);
  try {
    for (const ref of refs) {
      try {
        const img = await resolveImage(ref, registries, o.identity as string | undefined);
        for (const w of await act(img)) {
          written.push(w);
          log.info(`✔ ${w.image}@${w.digest}: ${w.kind} ${w.changed ? 'written to' : 'already in'} ${w.stored}`);
        }
      } catch (e) {
        const err = toAirlockError(e);
        if (err.code === 'USAGE' || err.code === 'BAD_REFERENCE') throw err;
        failures.push({ image: ref, error: err.describe() });
        log.error(`✘ ${ref}: ${err.describe()}`);
      }
    }
  } finally {
    log.end();
    await registries.close();
  }
  const result = { tool: 'airlock', command: step.name, ok: failures.length === 0, written, failures };
  if (o.report) await writeFileAtomic(String(o.report), `${JSON.stringify(result, null, 2)}\n`);
  if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return failures.length ? 1 : 0;
}

export function buildSignCommand(setExit: SetExit): Command {
  return commandFor(signStep, async (args, o) => {
    const fmt = format(o);
    const annotations = parseAnnotations((o.annotations as string[]) ?? []);
    const signer = await signerFrom(o);
    setExit(
      await overImages(signStep, args, o, async (img) => {
        const out: Written[] = [];
        for (const m of await manifestsToSign(img, !!o.recursive)) out.push(await signManifest(img, m, signer, { format: fmt, annotations }));
        return out;
      }),
    );
  });
}

export function buildAttestCommand(setExit: SetExit): Command {
  return commandFor(attestStep, async (args, o) => {
    const fmt = format(o);
    const predicate = await readPredicate(String(o.predicate));
    const signer = await signerFrom(o);
    setExit(await overImages(attestStep, args, o, async (img) => [await attestManifest(img, img.manifest, signer, { format: fmt, type: String(o.type), predicate, replace: !!o.replace })]));
  });
}

export function buildAttachCommand(setExit: SetExit): Command {
  const sbom = commandFor(attachSbomStep, async (args, o) => {
    let bytes: Buffer;
    try {
      bytes = await readFile(String(o.sbom));
    } catch {
      throw new AirlockError('BAD_INPUT', `cannot read SBOM ${String(o.sbom)}`, { hint: 'check the path given to --sbom' });
    }
    setExit(await overImages(attachSbomStep, args, o, async (img) => [await attachSbom(img, img.manifest, bytes, String(o.type))]));
  });
  return new Command('attach').description('Attach artifacts to images (cosign attach)').addCommand(sbom);
}

export function buildKeyCommand(setExit: SetExit): Command {
  const gen = commandFor(keyGenerateStep, async (_a, o) => {
    const password = await keyPassword({ passwordFile: o.passwordFile as string | undefined });
    const files = await generateKeys({ prefix: String(o.outputKeyPrefix), legacy: !!o.legacy, force: !!o.force, password });
    process.stderr.write(`Private key written to ${files.key}\nPublic key written to ${files.pub}\n`);
    setExit(0);
  });
  const imp = commandFor(keyImportStep, async (_a, o) => {
    if (!o.key) throw new AirlockError('USAGE', 'key import needs --key FILE');
    const password = await keyPassword({ passwordFile: o.passwordFile as string | undefined });
    const files = await importKeys({ file: String(o.key), prefix: String(o.outputKeyPrefix), legacy: !!o.legacy, force: !!o.force, password });
    process.stderr.write(`Private key written to ${files.key}\nPublic key written to ${files.pub}\n`);
    setExit(0);
  });
  return new Command('key').description('Generate and import cosign key pairs').addCommand(gen).addCommand(imp);
}

export function buildSignBlobCommand(setExit: SetExit): Command {
  return commandFor(signBlobStep, async (args, o) => {
    const file = args[0]!;
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch {
      throw new AirlockError('BAD_INPUT', `cannot read ${file}`);
    }
    const signer = await signerFrom(o);
    let signatureB64: string | undefined;
    let bundle: unknown;
    try {
      if (signer.kind === 'key') {
        signatureB64 = signBytes(data, signer.privateKey).toString('base64');
        if (o.bundle) bundle = buildKeyBlobBundle({ privateKey: signer.privateKey, artifact: data });
      } else {
        if (!o.bundle) throw new AirlockError('USAGE', 'keyless sign-blob needs --bundle OUT');
        bundle = await signBlobKeyless({ ...signer.options, artifact: data });
      }
    } catch (e) {
      throw cosignToAirlock(e, file);
    }
    if (o.bundle) await writeFileAtomic(String(o.bundle), `${JSON.stringify(bundle)}\n`);
    if (signatureB64 !== undefined) {
      if (o.outputSignature) await writeFile(String(o.outputSignature), signatureB64);
      else process.stdout.write(`${signatureB64}\n`);
    }
    setExit(0);
  });
}
