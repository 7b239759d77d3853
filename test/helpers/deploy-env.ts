/**
 * What the deploy-image suites share: a real loopback docker-registry holding a signed image under
 * several tags (same digest) and an unsigned one, the signing key pair as cosign files, and a way
 * to run the deploy-image bundle with plain node in a clean environment.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RegistryRepo, writeCosignLayers, type Digest, type Registries } from '@airlock/oci';
import { publicKeyToPem, signImage } from '@airlock/cosign';
import { runCli, type CliResult } from './cli.js';
import { makeImages, pushLayoutToRegistry, type ImageLayout } from './images.js';
import { registriesFor } from './lib.js';
import { startRegistry, type TestRegistry } from './registry.js';

export interface DeployEnv {
  reg: TestRegistry;
  host: string;
  registries: Registries;
  images: ImageLayout;
  dir: string;
  /** cosign.pub of the key that signed acme/app. */
  pubKey: string;
  /** Another key's public key (signed nothing). */
  otherPubKey: string;
  /** acme/app: signed; tags 1.4, 1.5-broken, 1.6-slow, 1.3, crash all name this digest. */
  appDigest: Digest;
  /** acme/unsigned:1.0 */
  unsignedDigest: Digest;
  stop(): Promise<void>;
}

export const APP_TAGS = ['1.4', '1.5-broken', '1.6-slow', '1.3', 'crash'];

export async function startDeployEnv(): Promise<DeployEnv> {
  const reg = await startRegistry();
  const registries = registriesFor([reg]);
  const images = await makeImages({ images: 2, layers: 1, layerMb: 0.01, seed: 31 });
  const dir = mkdtempSync(path.join(tmpdir(), 'airlock-deploy-'));
  const signer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pubKey = path.join(dir, 'cosign.pub');
  const otherPubKey = path.join(dir, 'other.pub');
  writeFileSync(pubKey, publicKeyToPem(signer.publicKey));
  writeFileSync(otherPubKey, publicKeyToPem(other.publicKey));

  const appDigest = (await pushLayoutToRegistry(images.layoutDir, 'img-0', reg, 'acme/app', APP_TAGS[0])).digest as Digest;
  const app = new RegistryRepo(registries.client(reg.host), 'acme/app');
  const m = await app.getManifest(APP_TAGS[0]!);
  for (const t of APP_TAGS.slice(1)) await app.pushManifest(m, t);
  const s = signImage({ privateKey: signer.privateKey, dockerReference: `${reg.host}/acme/app`, manifestDigest: appDigest });
  await writeCosignLayers(app, appDigest, 'sig', [{ bytes: s.payload, mediaType: s.mediaType, annotations: s.annotations }]);
  const unsignedDigest = (await pushLayoutToRegistry(images.layoutDir, 'img-1', reg, 'acme/unsigned', '1.0')).digest as Digest;

  return {
    reg,
    host: reg.host,
    registries,
    images,
    dir,
    pubKey,
    otherPubKey,
    appDigest,
    unsignedDigest,
    stop: async () => {
      await registries.close();
      await Promise.all([reg.stop(), images.remove()]);
    },
  };
}

/** `node dist/deploy-image.cjs ARGS` with a clean environment (HOME is a temp dir: no ~/.kube). */
export function deployImage(args: string[], env: NodeJS.ProcessEnv = {}, home?: string): Promise<CliResult> {
  return runCli(args, { bundle: 'deploy-image.cjs', env: { HOME: home ?? mkdtempSync(path.join(tmpdir(), 'airlock-home-')), ...env } });
}

/** Run the real kubectl (async: the replay server lives in this process). */
export function kubectl(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', args, { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
