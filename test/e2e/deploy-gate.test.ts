/**
 * The verification gate of deploy-image, with images in a real docker-registry: an unsigned (or
 * wrongly signed) image stops the deploy before anything changes — no PATCH reaches the API
 * server, no manifest is written; a signed one passes; --no-verify is explicit and warned about.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNoStack, runCli } from '../helpers/cli.js';
import { deployImage, startDeployEnv, type DeployEnv } from '../helpers/deploy-env.js';
import { startKubeReplay, type KubeReplay } from '../helpers/kube-replay.js';

describe('deploy-image: the verification gate', () => {
  let env: DeployEnv;
  let kube: KubeReplay;
  let kc: string;
  let dir: string;
  const OLD = 'registry.example/acme/app:1.2';

  beforeAll(async () => {
    env = await startDeployEnv();
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-deploy-gate-'));
  });
  afterAll(async () => {
    await env?.stop();
  });
  afterEach(async () => {
    await kube?.stop();
  });

  async function replay() {
    kube = await startKubeReplay({ workloads: [{ kind: 'Deployment', name: 'app', namespace: 'prod', containers: [{ name: 'app', image: OLD }] }] });
    kc = kube.kubeconfig({ namespace: 'prod' });
  }
  const manifests = () => {
    const d = mkdtempSync(path.join(dir, 'manifests-'));
    writeFileSync(path.join(d, 'app.yaml'), `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ${env.host}/acme/unsigned:1.0 # pinned by airlock\n`);
    return d;
  };

  it('an unsigned image is refused (exit 1, the reason); nothing is patched and no manifest is written', async () => {
    await replay();
    const m = manifests();
    const before = readFileSync(path.join(m, 'app.yaml'), 'utf8');
    const report = path.join(dir, 'unsigned.json');
    const dotenv = path.join(dir, 'unsigned.env');
    const r = await deployImage(['--image', `${env.host}/acme/unsigned:1.0`, '--key', env.pubKey, '--kubeconfig', kc, '--kube', 'deployment/app', '--manifests', m, '--report', report, '--dotenv', dotenv]);
    expectNoStack(r);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`✘ ${env.host}/acme/unsigned:1.0 → ${env.host}/acme/unsigned:1.0@${env.unsignedDigest}`);
    expect(r.stderr).toContain(`${env.host}/acme/unsigned:1.0@${env.unsignedDigest}: no valid signature by key ${env.pubKey} (none found)`);
    expect(r.stderr).toContain('1 image failed verification: nothing was deployed');
    expect(kube.patches()).toEqual([]);
    expect(kube.requests).toEqual([]);
    expect(readFileSync(path.join(m, 'app.yaml'), 'utf8')).toBe(before);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { ok: boolean; verification: { enabled: boolean; ok: boolean; images: Array<{ ok: boolean; failures: string[] }> }; kube?: unknown; manifests?: unknown };
    expect(rep.ok).toBe(false);
    expect(rep.verification).toMatchObject({ enabled: true, ok: false, images: [{ ok: false, failures: [`no valid signature by key ${env.pubKey} (none found)`] }] });
    expect(rep.kube).toBeUndefined();
    expect(rep.manifests).toBeUndefined();
    expect(readFileSync(dotenv, 'utf8')).toContain('AIRLOCK_DEPLOY_OK=false\nAIRLOCK_VERIFIED=false\n');
  });

  it('a signature by another key is refused with why; one image failing stops all', async () => {
    await replay();
    const r = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--key', env.otherPubKey, '--kubeconfig', kc, '--kube', 'deployment/app']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rejected {2}sha256-[0-9a-f]{12}….sig layer 1: BAD_SIGNATURE/);
    const both = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--image', `${env.host}/acme/unsigned:1.0`, '--key', env.pubKey, '--kubeconfig', kc, '--kube', 'deployment/app']);
    expect(both.code).toBe(1);
    expect(kube.patches()).toEqual([]);
  });

  it('a signed image passes, also when named upstream and mapped with --rewrite', async () => {
    await replay();
    const r = await deployImage(['--image', 'registry.example/acme/app:1.4', '--rewrite', `registry.example/acme=${env.host}/acme`, '--key', env.pubKey, '--kubeconfig', kc, '--kube', 'deployment/app', '--poll-interval', '20ms']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`✔ registry.example/acme/app:1.4 → ${env.host}/acme/app:1.4@${env.appDigest}`);
    expect(kube.patches()).toHaveLength(1);
    expect(kube.object('Deployment', 'app', 'prod').spec.template.spec.containers[0].image).toBe(`${env.host}/acme/app:1.4@${env.appDigest}`);
  });

  it('a verify policy file works as for airlock verify; a policy that matches nothing refuses', async () => {
    await replay();
    const policy = path.join(dir, 'policy.yaml');
    writeFileSync(policy, `policies:\n  - name: acme\n    match: ["${env.host}/acme/app"]\n    signatures:\n      anyOf: [{ key: ${env.pubKey} }]\n`);
    const ok = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--policy', policy, '--kubeconfig', kc, '--kube', 'deployment/app', '--poll-interval', '20ms']);
    expect(ok.code, ok.stderr).toBe(0);
    const none = await deployImage(['--image', `${env.host}/acme/unsigned:1.0`, '--policy', policy, '--kubeconfig', kc, '--kube', 'deployment/app']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`no entry of the policy ${policy} matches ${env.host}/acme/unsigned`);
    const conflict = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--policy', policy, '--key', env.pubKey, '--kubeconfig', kc, '--kube', 'deployment/app']);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toContain('--policy names the signers itself');
    const noKey = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--kubeconfig', kc, '--kube', 'deployment/app']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('error: deploy-image needs --key FILE, keyless --certificate-identity[-regexp] + --certificate-oidc-issuer[-regexp], or --policy FILE');
    expect(kube.patches()).toHaveLength(1);
  });

  it('--no-verify deploys the unsigned image, with a warning in the log, the report and the dotenv', async () => {
    await replay();
    const m = manifests();
    const out = path.join(dir, 'no-verify-out');
    const report = path.join(dir, 'no-verify.json');
    const dotenv = path.join(dir, 'no-verify.env');
    const r = await deployImage(['--image', `${env.host}/acme/unsigned:1.0`, '--no-verify', '--kubeconfig', kc, '--kube', 'deployment/app', '--poll-interval', '20ms', '--manifests', m, '--out', out, '--report', report, '--dotenv', dotenv]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('warning: verification is off (--no-verify): the images are deployed without checking their signatures');
    expect(r.stderr).toContain('NOT verified (--no-verify)');
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { warnings: string[]; verification: { enabled: boolean } };
    expect(rep.verification.enabled).toBe(false);
    expect(rep.warnings).toContain('verification is off (--no-verify): the images are deployed without checking their signatures');
    expect(readFileSync(dotenv, 'utf8')).toContain('AIRLOCK_VERIFIED=false\n');
    expect(readFileSync(path.join(out, 'app.yaml'), 'utf8')).toContain(`image: ${env.host}/acme/unsigned:1.0@${env.unsignedDigest} # pinned by airlock\n`);
    expect(kube.patches()).toHaveLength(1);
    // GitHub Actions shows the warning as an annotation.
    const gh = await deployImage(['--image', `${env.host}/acme/unsigned:1.0`, '--no-verify', '--manifests', m, '--dry-run'], { GITHUB_ACTIONS: 'true', CI: 'true' });
    expect(gh.code, gh.stderr).toBe(0);
    expect(gh.stderr).toContain('::warning::verification is off (--no-verify)');
  });

  it('an image missing from the private registry stops before the gate; unknown flags and missing targets are usage errors', async () => {
    await replay();
    const missing = await deployImage(['--image', `${env.host}/acme/app:9.9`, '--key', env.pubKey, '--kubeconfig', kc, '--kube', 'deployment/app']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`error: --image ${env.host}/acme/app:9.9: ${env.host}/acme/app:9.9 is not in ${env.host}`);
    const noTarget = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--key', env.pubKey]);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain('error: deploy-image needs a target');
    // The same step in the all-in-one CLI.
    const help = await runCli(['deploy-image', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: airlock deploy-image [options]');
    expect(help.stdout).toContain('--kube <KIND/NAME[:CONTAINER]>');
    const strictAlone = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--key', env.pubKey, '--strict', '--kubeconfig', kc, '--kube', 'deployment/app']);
    expect(strictAlone.code).toBe(2);
    expect(kube.patches()).toEqual([]);
  });
});
