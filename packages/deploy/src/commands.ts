/**
 * `airlock deploy-image`: map and pin the images, verify them (the gate), then the targets:
 * manifests, Flux artifact, Kubernetes API. Every input is checked before any I/O (exit 2); the
 * gate runs before anything changes; results go to the log, --json, --report and --dotenv.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AirlockError, parseRewrite, toAirlockError, type ErrorCode, type Registries } from '@airlock/oci';
import { commandFor, connectionFlags, Logger, registriesFrom, writeFileAtomic } from '@airlock/step-kit';
import { readImageList, type ImageListEntry } from '@airlock/step-kit/image-list';
import { keyPassword, loadPrivateKey, signManifest } from '@airlock/signing';
import type { Command } from 'commander';
import { isKubeError } from './external/errors.js';
import { KubeClient } from './external/kube.js';
import { loadKubeTarget, type KubeTarget } from './external/kubeconfig.js';
import { checkRevision, createdTime, buildFluxArtifact, fluxName, fluxObjects, parseArtifactUrl, pushFluxArtifact, sourceFromCi } from './flux.js';
import { prepareGate, type GateResult } from './gate.js';
import { mapImages, pinImages, type PinnedImage } from './images.js';
import { deployImageStep } from './inputs.js';
import { deployToKube, parseKubeTarget, type KubeResult } from './kube-deploy.js';
import { ImageMatcher, rewriteManifests, type ManifestsResult } from './manifests.js';
import { dotenvText, parseDuration } from './outputs.js';

export type SetExit = (code: number) => void;
type Opts = Record<string, unknown>;

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined || v === '' ? [] : [String(v)]);
const str = (v: unknown): string | undefined => (v === undefined || v === null || v === '' ? undefined : String(v));

/** The Kubernetes edge's errors as the CLI's: configuration problems are input errors (exit 2). */
export function kubeToAirlock(e: unknown): AirlockError {
  if (!isKubeError(e)) return toAirlockError(e);
  const map: Record<string, ErrorCode> = {
    KUBE_CONFIG: 'BAD_INPUT',
    KUBE_EXEC: 'CREDENTIALS',
    KUBE_UNAUTHORIZED: 'UNAUTHORIZED',
    KUBE_FORBIDDEN: 'DENIED',
    KUBE_NOT_FOUND: 'NOT_FOUND',
    KUBE_TLS: 'TLS',
    KUBE_NETWORK: 'NETWORK',
  };
  return new AirlockError(map[e.code] ?? 'REGISTRY', `kubernetes: ${e.message}`, { ...(e.hint ? { hint: e.hint } : {}), ...(e.status ? { status: e.status } : {}), cause: e });
}

export interface DeployReport {
  tool: 'airlock';
  command: 'deploy-image';
  ok: boolean;
  dryRun: boolean;
  images: Array<{ input: string; reference: string; digest: string; key: string }>;
  verification: GateResult | { enabled: boolean; ok: false; images: [] };
  kube?: { server: string; source: string; namespace: string; workloads: KubeResult[] };
  manifests?: Omit<ManifestsResult, 'single'>;
  artifact?: { url: string; repository: string; tag: string; digest: string; layerDigest: string; pushed: boolean; signed: boolean; signature?: string; fluxObjects: string };
  warnings: string[];
  error?: { code: string; message: string; hint?: string };
}

interface Plan {
  entries: ImageListEntry[];
  to?: string;
  rewrites: ReturnType<typeof parseRewrite>[];
  kube: ReturnType<typeof parseKubeTarget>[];
  kubeTarget?: KubeTarget;
  manifests?: string;
  out?: string;
  artifact?: { ref: ReturnType<typeof parseArtifactUrl>; url: string; source: string; revision: string };
  timeoutMs: number;
  pollMs: number;
  gate: ReturnType<typeof prepareGate>;
}

/** Every input checked before any I/O: problems are usage errors (exit 2). */
async function plan(o: Opts, env: NodeJS.ProcessEnv): Promise<Plan> {
  const entries: ImageListEntry[] = list(o.image).map((source) => ({ source, where: `--image ${source}` }));
  if (o.file) entries.push(...(await readImageList(String(o.file))));
  if (!entries.length) throw new AirlockError('USAGE', 'deploy-image needs --image REF or --file LIST', { hint: 'see airlock deploy-image --help' });
  const kube = list(o.kube).map(parseKubeTarget);
  const manifests = str(o.manifests);
  const pushArtifact = str(o.pushArtifact);
  if (!kube.length && !manifests && !pushArtifact) {
    throw new AirlockError('USAGE', 'deploy-image needs a target: --kube KIND/NAME, --manifests DIR|FILE, or --push-artifact oci://HOST/REPO:TAG', { hint: 'see airlock deploy-image --help' });
  }
  if (o.out && !manifests) throw new AirlockError('USAGE', '--out needs --manifests', { hint: '--out DIR receives the rewritten manifests' });
  if (o.strict && !manifests) throw new AirlockError('USAGE', '--strict needs --manifests');
  if (o.output !== undefined && o.output !== 'json') throw new AirlockError('USAGE', `--output ${String(o.output)}: only json is supported`);
  if (o.output === 'json' && !pushArtifact) throw new AirlockError('USAGE', '-o json prints the pushed artifact: it needs --push-artifact');
  if (o.output === 'json' && o.json) throw new AirlockError('USAGE', '--json and -o json exclude each other');
  let artifact: Plan['artifact'];
  if (pushArtifact) {
    if (!manifests) throw new AirlockError('USAGE', '--push-artifact needs --manifests DIR|FILE (what to package)');
    const ci = sourceFromCi(env);
    const source = str(o.source) ?? ci.source;
    const revision = str(o.revision) ?? ci.revision;
    if (!source) throw new AirlockError('USAGE', '--push-artifact needs --source URL (the Git repository the manifests come from)', { hint: 'in GitLab and GitHub Actions it defaults to the project URL' });
    if (!revision) throw new AirlockError('USAGE', '--push-artifact needs --revision <branch|tag>@sha1:<sha>', { hint: 'in GitLab and GitHub Actions it defaults to the commit' });
    artifact = { ref: parseArtifactUrl(pushArtifact), url: pushArtifact, source, revision: checkRevision(revision) };
  }
  if (o.signKey && !artifact) throw new AirlockError('USAGE', '--sign-key signs the Flux artifact: it needs --push-artifact', { hint: 'sign images with airlock sign' });
  const timeoutMs = parseDuration(String(o.timeout ?? '10m'), 'timeout');
  const pollMs = parseDuration(String(o.pollInterval ?? '2s'), 'poll-interval');
  if (pollMs <= 0) throw new AirlockError('USAGE', '--poll-interval must be more than 0');
  const gate = prepareGate(o);
  let kubeTarget: KubeTarget | undefined;
  if (kube.length) {
    try {
      kubeTarget = loadKubeTarget({ ...(str(o.kubeconfig) ? { kubeconfig: String(o.kubeconfig) } : {}), ...(str(o.context) ? { context: String(o.context) } : {}), ...(str(o.namespace) ? { namespace: String(o.namespace) } : {}), env });
    } catch (e) {
      throw kubeToAirlock(e);
    }
  }
  return {
    entries,
    ...(str(o.to) ? { to: String(o.to) } : {}),
    rewrites: list(o.rewrite).map(parseRewrite),
    kube,
    ...(kubeTarget ? { kubeTarget } : {}),
    ...(manifests ? { manifests } : {}),
    ...(str(o.out) ? { out: String(o.out) } : {}),
    ...(artifact ? { artifact } : {}),
    timeoutMs: timeoutMs === 0 ? Number.POSITIVE_INFINITY : timeoutMs,
    pollMs,
    gate,
  };
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

export async function runDeployImage(o: Opts, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  const p = await plan(o, io.env);
  const specs = mapImages(p.entries, { ...(p.to ? { to: p.to } : {}), rewrites: p.rewrites });
  const log = new Logger(io.stderr, io.env, !!o.quiet);
  const dryRun = !!o.dryRun;
  const flags = connectionFlags(o);
  // The signing key is read (and decrypted) before anything is pushed: a wrong password changes nothing.
  const signingKey = p.artifact && o.signKey && !dryRun ? await loadPrivateKey(String(o.signKey), await keyPassword({ ...(str(o.signPasswordFile) ? { passwordFile: String(o.signPasswordFile) } : {}) }, io.env)) : undefined;
  const registries: Registries = registriesFrom(flags);
  const report: DeployReport = { tool: 'airlock', command: 'deploy-image', ok: false, dryRun, images: [], verification: { enabled: o.verify !== false, ok: false, images: [] }, warnings: [] };
  let pinned: PinnedImage[] = [];
  let staging: string | undefined;
  const finish = async (code: number): Promise<number> => {
    report.ok = code === 0;
    if (o.report) await writeFileAtomic(String(o.report), `${JSON.stringify(report, null, 2)}\n`);
    if (o.dotenv) {
      const vars: Array<[string, string]> = [
        ['AIRLOCK_DEPLOY_OK', String(report.ok)],
        ['AIRLOCK_VERIFIED', String(report.verification.enabled && report.verification.ok)],
        ['AIRLOCK_IMAGES', pinned.map((i) => i.pinned).join(' ')],
        ...(report.artifact?.pushed ? ([['AIRLOCK_ARTIFACT_URL', report.artifact.url], ['AIRLOCK_ARTIFACT_DIGEST', report.artifact.digest]] as Array<[string, string]>) : []),
        ...pinned.map((i): [string, string] => [i.key, i.pinned]),
      ];
      const { text, omitted } = dotenvText(vars.filter(([, v]) => v !== ''));
      if (omitted.length) log.warn(`--dotenv: left out ${omitted.join(', ')} (GitLab reads at most 5 KB)`);
      await writeFileAtomic(String(o.dotenv), text);
    }
    if (o.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return code;
  };
  try {
    log.start(`airlock deploy-image: ${plural(specs.length, 'image')}${dryRun ? ' (dry run)' : ''}`, false);
    try {
      pinned = await pinImages(specs, registries);
      report.images = pinned.map((i) => ({ input: i.input, reference: i.pinned, digest: i.digest, key: i.key }));
      for (const i of pinned) log.info(`${i.input} → ${i.pinned}`);

      // The gate: nothing changes unless every image verifies.
      const gate = await p.gate.run(pinned, registries, log);
      report.verification = gate;
      if (gate.warning) report.warnings.push(gate.warning);
      if (!gate.ok) {
        const bad = gate.images.filter((g) => !g.ok);
        log.error(`${plural(bad.length, 'image')} failed verification: nothing was deployed`);
        for (const b of bad) for (const f of b.failures) log.error(`  ${b.reference}: ${f}`);
        return await finish(1);
      }

      let root: string | undefined;
      if (p.manifests) {
        const matcher = new ImageMatcher(pinned);
        // First without writing: --strict refuses before any file changes.
        const check = await rewriteManifests(p.manifests, matcher, { ...(p.out ? { out: p.out } : {}), dryRun: true });
        for (const u of check.unmapped) {
          const msg = `${u.file}:${u.line}: ${u.where}: ${u.image} is not in the image list (it would be pulled from outside the air gap)`;
          if (o.strict) log.error(msg);
          else {
            log.warn(msg);
            report.warnings.push(msg);
          }
        }
        if (o.strict && check.unmapped.length) {
          report.manifests = { root: check.root, files: check.files, replacements: check.replacements, unmapped: check.unmapped };
          throw new AirlockError('BAD_INPUT', `--strict: ${plural(check.unmapped.length, 'image')} in ${p.manifests} ${check.unmapped.length === 1 ? 'is' : 'are'} not in the image list`, {
            hint: 'add them to the list (and mirror them), or drop --strict',
          });
        }
        const r = dryRun ? check : await rewriteManifests(p.manifests, matcher, { ...(p.out ? { out: p.out } : {}), dryRun: false });
        const { single: _single, ...rest } = r;
        report.manifests = rest;
        root = r.root;
        if (dryRun && p.artifact) {
          // A dry run writes nothing where asked; the artifact is built from a staged copy, so its digest is the real one.
          staging = await mkdtemp(join(tmpdir(), 'airlock-deploy-dry-run-'));
          const staged = await rewriteManifests(p.manifests, matcher, { out: join(staging, 'manifests'), dryRun: false });
          root = staged.root;
        }
        for (const x of r.replacements) log.info(`${x.file}:${x.line}: ${x.where}: ${x.from} → ${x.to}`);
        const changed = r.files.filter((f) => f.changed).length;
        log.info(`manifests: ${plural(r.replacements.length, 'image reference')} pinned in ${plural(changed, 'file')}${dryRun ? ' (dry run: nothing written)' : p.out ? ` (written to ${p.out})` : ''}`);
      }

      if (p.artifact && root) {
        const a = p.artifact;
        const art = await buildFluxArtifact(root, { source: a.source, revision: a.revision, created: createdTime(io.env) });
        const repository = `${a.ref.registry}/${a.ref.repository}`;
        let url = `oci://${repository}@${art.manifest.digest}`;
        let signature: string | undefined;
        if (!dryRun) {
          const pushed = await pushFluxArtifact(a.ref, art, registries);
          url = pushed.url;
          log.info(`✔ artifact pushed: ${a.url} → ${url}`);
          if (signingKey) {
            const w = await signManifest({ input: a.url, repo: pushed.repo, manifest: art.manifest, name: repository }, art.manifest, { kind: 'key', privateKey: signingKey.privateKey }, { format: 'legacy', annotations: null });
            signature = w.stored;
            log.info(`✔ artifact signed: ${w.stored}`);
          }
        } else {
          log.info(`dry run: would push ${a.url} (digest ${art.manifest.digest})`);
        }
        const objects = fluxObjects({
          name: fluxName(a.ref.repository),
          namespace: String(o.fluxNamespace ?? 'flux-system'),
          repository,
          tag: a.ref.tag!,
          digest: art.manifest.digest,
          signed: !!o.signKey,
          privateRegistry: true,
          plainHttp: flags.insecureRegistries.includes(a.ref.registry),
        });
        report.artifact = { url, repository, tag: a.ref.tag!, digest: art.manifest.digest, layerDigest: art.tarball.digest, pushed: !dryRun, signed: !!signature, ...(signature ? { signature } : {}), fluxObjects: objects };
        if (o.output === 'json') io.stdout.write(`${JSON.stringify({ url, repository, tag: a.ref.tag, digest: art.manifest.digest }, null, 2)}\n`);
        else if (!o.json) io.stdout.write(`# Apply once; Flux then deploys ${a.ref.tag} by digest.\n${objects}`);
      }

      if (p.kube.length && p.kubeTarget) {
        const api = new KubeClient(p.kubeTarget, { retries: flags.retries });
        report.kube = { server: api.server, source: api.source, namespace: p.kubeTarget.namespace, workloads: [] };
        try {
          const results = await deployToKube(api, p.kube, pinned, {
            namespace: p.kubeTarget.namespace,
            dryRun,
            timeoutMs: p.timeoutMs,
            pollMs: p.pollMs,
            rollbackOnFailure: !!o.rollbackOnFailure,
            log,
            ...(o.json ? {} : { printPatch: (t: string) => io.stdout.write(t) }),
          });
          report.kube.workloads = results;
        } finally {
          await api.close();
        }
        const bad = report.kube.workloads.filter((w) => ['failed', 'rolled-back', 'rollback-failed'].includes(w.status));
        if (bad.length) {
          log.error(`deploy failed: ${bad.map((b) => `${b.target}: ${b.message}${b.status === 'rolled-back' ? ' (rolled back)' : b.status === 'rollback-failed' ? ' (rollback failed too)' : ''}`).join('; ')}`);
          return await finish(1);
        }
      }
      log.info(`deployed ${plural(pinned.length, 'image')} by digest${report.verification.enabled ? ', signatures verified' : ', NOT verified (--no-verify)'}${dryRun ? ' (dry run)' : ''}`);
      return await finish(0);
    } finally {
      log.end();
    }
  } catch (e) {
    const err = kubeToAirlock(e);
    report.error = { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
    await finish(1).catch(() => 1);
    throw err;
  } finally {
    await registries.close();
    if (staging) await rm(staging, { recursive: true, force: true });
  }
}

export function buildDeployImageCommand(setExit: SetExit): Command {
  return commandFor(deployImageStep, async (_args, opts) => {
    setExit(await runDeployImage(opts, { stdout: process.stdout, stderr: process.stderr, env: process.env }));
  });
}
