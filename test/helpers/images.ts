import { existsSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestRegistry } from './registry.js';
import { makeTempDir } from './tmp.js';
import { run } from './tools.js';

/** The repository root (this file is test/helpers/images.ts). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The shared fixture generator, beside the repo: ../shared/fixtures/mkimages.py. */
export const mkimagesScript = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'mkimages.py');

export interface MakeImagesOptions {
  images: number;
  /** Unique layers per image (per platform with multiarch). */
  layers: number;
  /** Size of each unique layer's payload in MiB; fractional is fine (0.01 = ~10 KiB). */
  layerMb: number;
  /** Size in MiB of a base layer shared by every image; 0/absent for none. */
  sharedBaseMb?: number;
  /** Make each tag an index of linux/amd64 + linux/arm64. */
  multiarch?: boolean;
  /** RNG seed: the same options and seed give byte-identical images. Default 1. */
  seed?: number;
  /** Write here instead of a fresh temp dir. */
  outDir?: string;
}

export interface ImageLayout {
  /** OCI image layout dir; a temp one is removed by remove(), at normal process exit, or by a later run. */
  layoutDir: string;
  /** img-0 .. img-(N-1), as in index.json's org.opencontainers.image.ref.name. */
  tags: string[];
  /** Removes layoutDir (also when it was given as outDir). */
  remove(): Promise<void>;
}

const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Writes synthetic images into an OCI layout with the shared fixture script. */
export async function makeImages(opts: MakeImagesOptions): Promise<ImageLayout> {
  if (!existsSync(mkimagesScript)) {
    throw new Error(`fixture generator missing: ${mkimagesScript} (shared/ must sit beside the repo)`);
  }
  let layoutDir = opts.outDir;
  if (!layoutDir) {
    layoutDir = makeTempDir('images');
    tempDirs.add(layoutDir);
  }
  const args = [
    mkimagesScript, layoutDir,
    '--images', String(opts.images),
    '--layers', String(opts.layers),
    '--layer-mb', String(opts.layerMb),
  ];
  if (opts.sharedBaseMb) args.push('--shared-base', String(opts.sharedBaseMb));
  if (opts.multiarch) args.push('--multiarch');
  if (opts.seed !== undefined) args.push('--seed', String(opts.seed));
  await run('python3', args, { timeoutMs: 600_000 });
  const index = JSON.parse(readFileSync(path.join(layoutDir, 'index.json'), 'utf8')) as {
    manifests: { annotations?: Record<string, string> }[];
  };
  const tags = index.manifests
    .map((m) => m.annotations?.['org.opencontainers.image.ref.name'])
    .filter((t): t is string => typeof t === 'string');
  const dir = layoutDir;
  return {
    layoutDir,
    tags,
    remove: async () => {
      tempDirs.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * skopeo flags to reach `reg` on one side of a copy ('src' / 'dest'), or for inspect ('').
 * Adds credentials, and either the cert dir (tls: verified HTTPS) or tls-verify=false (plain HTTP).
 */
export function skopeoRegistryArgs(reg: TestRegistry, side: 'src' | 'dest' | '' = ''): string[] {
  const p = side ? `--${side}-` : '--';
  const args: string[] = [];
  if (reg.username !== undefined && reg.password !== undefined) {
    args.push(`${p}creds`, `${reg.username}:${reg.password}`);
  }
  if (reg.certsDir) args.push(`${p}cert-dir`, reg.certsDir, `${p}tls-verify=true`);
  else args.push(`${p}tls-verify=false`);
  return args;
}

function mentions(args: readonly string[], prefix: string): boolean {
  return args.some((a) => a === prefix || a.startsWith(`${prefix}=`));
}

/** Runs skopeo with a policy that accepts anything and no ambient credentials. */
export async function skopeo(args: readonly string[]): Promise<string> {
  const authFile = path.join(os.tmpdir(), 'airlock-skopeo-no-auth.json');
  const env = { ...process.env, REGISTRY_AUTH_FILE: authFile };
  const { stdout } = await run('skopeo', ['--insecure-policy', ...args], { env, timeoutMs: 600_000 });
  return stdout;
}

/**
 * `skopeo copy` SRC DST. For a docker:// side whose TLS handling extraArgs do not set
 * (no --X-tls-verify, no --X-cert-dir), --X-tls-verify=false is added so plain-HTTP registries work.
 */
export async function skopeoCopy(src: string, dst: string, extraArgs: readonly string[] = []): Promise<void> {
  const args = ['copy'];
  for (const [side, ref] of [['src', src], ['dest', dst]] as const) {
    if (ref.startsWith('docker://') && !mentions(extraArgs, `--${side}-tls-verify`) && !mentions(extraArgs, `--${side}-cert-dir`)) {
      args.push(`--${side}-tls-verify=false`);
    }
  }
  await skopeo([...args, ...extraArgs, src, dst]);
}

export interface InspectOptions {
  /** Default false, unless certDir is given. */
  tlsVerify?: boolean;
  certDir?: string;
  /** "user:password" */
  creds?: string;
  /** Inspect the config rather than the manifest. */
  config?: boolean;
  /** Extra flags, placed before the reference. */
  extraArgs?: string[];
}

/**
 * `skopeo inspect REF` (REF like docker://HOST/REPO:TAG). With raw: true it returns the exact
 * bytes as text (for digest checks); otherwise skopeo's parsed JSON.
 */
export async function skopeoInspect(ref: string, opts: InspectOptions & { raw: true }): Promise<string>;
export async function skopeoInspect(ref: string, opts?: InspectOptions & { raw?: false }): Promise<unknown>;
export async function skopeoInspect(ref: string, opts: InspectOptions & { raw?: boolean } = {}): Promise<unknown> {
  const args = ['inspect'];
  if (opts.raw) args.push('--raw');
  if (opts.config) args.push('--config');
  if (opts.creds) args.push('--creds', opts.creds);
  if (opts.certDir) args.push('--cert-dir', opts.certDir);
  if (ref.startsWith('docker://')) args.push(`--tls-verify=${String(opts.tlsVerify ?? opts.certDir !== undefined)}`);
  args.push(...(opts.extraArgs ?? []), ref);
  const out = await skopeo(args);
  return opts.raw ? out : (JSON.parse(out) as unknown);
}

/** skopeoInspect options that reach `reg` with its credentials and CA. */
export function inspectOptionsFor(reg: TestRegistry): InspectOptions {
  return {
    creds: reg.username !== undefined && reg.password !== undefined ? `${reg.username}:${reg.password}` : undefined,
    certDir: reg.certsDir,
  };
}

/**
 * Pushes tag `tag` of an OCI layout to `reg` as REPO:destTag (default: the same tag) with
 * `skopeo copy --all`, using the registry's credentials and CA. Returns the pushed manifest digest
 * and the docker:// reference.
 */
export async function pushLayoutToRegistry(
  layoutDir: string,
  tag: string,
  reg: TestRegistry,
  repo: string,
  destTag: string = tag,
): Promise<{ ref: string; digest: string }> {
  const ref = `docker://${reg.host}/${repo}:${destTag}`;
  const digestFile = path.join(reg.dir, `digest-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  await skopeoCopy(`oci:${layoutDir}:${tag}`, ref, ['--all', '--preserve-digests', '--digestfile', digestFile, ...skopeoRegistryArgs(reg, 'dest')]);
  const digest = readFileSync(digestFile, 'utf8').trim();
  rmSync(digestFile, { force: true });
  return { ref, digest };
}
