import { dirname } from 'node:path';
import { Command } from 'commander';
import { AirlockError, parseLocation, writeCosignLayers, cosignTag, type Digest } from '@airlock/oci';
import { keyPassword, loadPrivateKey, manifestsToSign, resolveImage, signManifest } from '@airlock/signing';
import { AIRLOCK_VERSION, commandFor, connectionFlags, Logger, registriesFrom, writeFileAtomic } from '@airlock/step-kit';
import { readFile } from 'node:fs/promises';
import { buildRunnerImage, layerEntries, sbomFile } from './build.js';
import { imageBuildStep } from './inputs.js';

type SetExit = (code: number) => void;

const SBOM_TYPES = { spdx: 'text/spdx+json', cyclonedx: 'application/vnd.cyclonedx+json' } as const;

/** The layer's time: --created, else SOURCE_DATE_EPOCH, else the epoch (reproducible either way). */
export function createdFrom(opt: unknown, env: NodeJS.ProcessEnv): string {
  if (opt !== undefined) {
    const t = Date.parse(String(opt));
    if (Number.isNaN(t)) throw new AirlockError('USAGE', `--created "${String(opt)}" is not an RFC 3339 time`, { hint: 'e.g. 2026-01-31T12:00:00Z' });
    return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  const epoch = Number(env.SOURCE_DATE_EPOCH ?? 0);
  if (!Number.isFinite(epoch) || epoch < 0) throw new AirlockError('USAGE', `SOURCE_DATE_EPOCH "${env.SOURCE_DATE_EPOCH}" is not a number of seconds`);
  return new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function defaultSource(env: NodeJS.ProcessEnv): string | undefined {
  if (env.CI_PROJECT_URL) return env.CI_PROJECT_URL;
  if (env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY) return `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}`;
  return undefined;
}

export function buildImageCommand(setExit: SetExit): Command {
  const cmd = commandFor(imageBuildStep, async (_args, o) => {
    const env = process.env;
    const sbom = String(o.sbom ?? 'spdx');
    if (sbom !== 'spdx' && sbom !== 'cyclonedx' && sbom !== 'none') throw new AirlockError('USAGE', `--sbom must be spdx, cyclonedx or none, got "${sbom}"`);
    const concurrency = Number(o.concurrency ?? 8);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new AirlockError('USAGE', `--concurrency must be a whole number from 1 to 256, got ${String(o.concurrency)}`);
    const base = parseLocation(String(o.base));
    const to = parseLocation(String(o.to), { defaultTag: false });
    const bundleDir = o.bundleDir ? String(o.bundleDir) : dirname(process.argv[1] ?? '.');
    const created = createdFrom(o.created, env);
    await layerEntries(bundleDir); // the directory is checked before any key or SBOM is read
    // Read the signing key first: a wrong password fails before anything is pushed.
    const key = o.signKey ? await loadPrivateKey(String(o.signKey), await keyPassword({ passwordFile: o.passwordFile as string | undefined })) : undefined;
    const sbomBytes = sbom === 'none' ? undefined : await readFile(sbomFile(bundleDir, sbom)).catch(() => {
      throw new AirlockError('BAD_INPUT', `${sbomFile(bundleDir, sbom)}: the SBOM is missing`, { hint: 'npm run build writes it beside the bundles; or pass --sbom none' });
    });
    const log = new Logger(process.stderr, env, false);
    const registries = registriesFrom(connectionFlags(o));
    log.start(`airlock image build: ${base.input} + airlock ${AIRLOCK_VERSION} → ${to.input}`, false);
    try {
      const revision = (o.revision as string | undefined) ?? env.CI_COMMIT_SHA ?? env.GITHUB_SHA;
      const source = (o.source as string | undefined) ?? defaultSource(env);
      const r = await buildRunnerImage({
        base,
        to,
        bundleDir,
        version: AIRLOCK_VERSION,
        ...(revision ? { revision } : {}),
        ...(source ? { source } : {}),
        created,
        registries,
        concurrency,
      });
      log.info(`✔ ${r.reference} (${r.platforms.length ? r.platforms.join(', ') : 'one platform'}; layer ${r.layer.digest}, ${r.layer.files.length} files)`);
      for (const d of r.dropped) log.warn(`not extended: ${d} (describes the base, not the runner image)`);
      const pinned = to.kind === 'layout' ? `oci:${to.dir}:${to.tag}` : r.reference;
      let sbomOut: { tag: string; mediaType: string } | undefined;
      let signed = 0;
      if (sbomBytes || key) {
        const img = await resolveImage(pinned.replace(/@sha256:[0-9a-f]{64}$/, ''), registries, to.kind === 'layout' ? 'airlock' : undefined);
        if (img.manifest.digest !== r.digest) throw new AirlockError('REGISTRY', `${pinned} changed while it was being built (now ${img.manifest.digest})`);
        if (sbomBytes) {
          const mediaType = SBOM_TYPES[sbom as keyof typeof SBOM_TYPES];
          await writeCosignLayers(img.repo, r.digest as Digest, 'sbom', [{ bytes: sbomBytes, mediaType }], 'replace');
          sbomOut = { tag: cosignTag(r.digest as Digest, 'sbom'), mediaType };
          log.info(`✔ SBOM (${sbom}) attached as ${sbomOut.tag}`);
        }
        if (key) {
          for (const m of await manifestsToSign(img, true)) {
            await signManifest(img, m, { kind: 'key', privateKey: key.privateKey }, { format: 'legacy', annotations: null });
            signed++;
          }
          log.info(`✔ signed ${signed} manifest${signed === 1 ? '' : 's'}`);
        }
      }
      const out = { ...r, ...(sbomOut ? { sbom: sbomOut } : {}), signed };
      if (o.report) await writeFileAtomic(String(o.report), `${JSON.stringify(out, null, 2)}\n`);
      if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      setExit(0);
    } finally {
      await registries.close();
      log.end();
    }
  });
  return new Command('image').description('Build the Airlock runner image').addCommand(cmd);
}
