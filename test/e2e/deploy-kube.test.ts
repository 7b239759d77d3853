/**
 * deploy-image --kube against the replay API server (TLS, client certificates), with images in a
 * real docker-registry signed by the cosign library. The same server and kubeconfig serve Debian's
 * real kubectl, which keeps the replay honest.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deployImage, kubectl, startDeployEnv, type DeployEnv } from '../helpers/deploy-env.js';
import { expectNoStack } from '../helpers/cli.js';
import { startKubeReplay, type KubeReplay, type Outcome } from '../helpers/kube-replay.js';
import { requireTool } from '../helpers/tools.js';
import { KubeClient, loadKubeTarget } from '@airlock/deploy';

interface Report {
  ok: boolean;
  images: Array<{ reference: string; digest: string; key: string }>;
  verification: { enabled: boolean; ok: boolean };
  kube: { namespace: string; workloads: Array<{ target: string; status: string; message: string; containers: Array<{ name: string; from: string; to: string }>; patch?: unknown; problems?: Array<{ pod: string; container: string; reason: string; message?: string; events: string[] }>; rollback?: { status: string } }> };
  warnings: string[];
}

const outcome = (image: string): Outcome => (image.includes(':1.5-broken@') ? 'image-pull-backoff' : image.includes(':1.6-slow@') ? 'hang' : image.includes(':crash@') ? 'crashloop' : 'complete');

describe('deploy-image --kube (replay API server, real registry, real kubectl)', () => {
  let env: DeployEnv;
  let kube: KubeReplay;
  let kc: string;
  let dir: string;
  let home: string;
  const OLD = 'registry.example/acme/app:1.2';

  beforeAll(async () => {
    requireTool('kubectl');
    env = await startDeployEnv();
    dir = mkdtempSync(path.join(tmpdir(), 'airlock-deploy-kube-'));
    home = mkdtempSync(path.join(tmpdir(), 'airlock-home-'));
  });
  afterAll(async () => {
    await env?.stop();
  });
  afterEach(async () => {
    await kube?.stop();
  });

  async function replay(extra: Partial<Parameters<typeof startKubeReplay>[0]> = {}) {
    kube = await startKubeReplay({
      outcome,
      workloads: [
        { kind: 'Deployment', name: 'app', namespace: 'prod', containers: [{ name: 'app', image: OLD }, { name: 'proxy', image: 'registry.example/envoy:1.30' }], initContainers: [{ name: 'migrate', image: OLD }] },
        { kind: 'StatefulSet', name: 'db', namespace: 'prod', containers: [{ name: 'app', image: OLD }] },
        { kind: 'DaemonSet', name: 'agent', namespace: 'prod', containers: [{ name: 'agent', image: OLD }] },
        { kind: 'CronJob', name: 'report', namespace: 'prod', containers: [{ name: 'report', image: OLD }] },
      ],
      ...extra,
    });
    kc = kube.kubeconfig({ namespace: 'prod' });
    return kube;
  }

  const args = (image: string, ...rest: string[]) => ['--image', `${env.host}/acme/app:${image}`, '--key', env.pubKey, '--kubeconfig', kc, '--poll-interval', '20ms', '--timeout', '30s', ...rest];
  const readReport = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Report;

  it('real kubectl works against the replay server with the same kubeconfig: get, set image, rollout status', async () => {
    await replay();
    const kenv = { KUBECONFIG: kc, HOME: home };
    const get = await kubectl(['get', 'deployment', 'app'], kenv);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\napp\s+2\/2\s+2\s+2\s+/);
    const set = await kubectl(['set', 'image', 'deployment/app', 'app=registry.example/acme/app:9.9'], kenv);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('deployment.apps/app image updated');
    // kubectl's own patch: the shape deploy-image sends too.
    expect(kube.patches().at(-1)).toMatchObject({
      path: '/apis/apps/v1/namespaces/prod/deployments/app',
      query: { fieldManager: 'kubectl-set' },
      contentType: 'application/strategic-merge-patch+json',
      clientCN: 'airlock-test-client',
    });
    expect(JSON.parse(kube.patches().at(-1)!.body!)).toEqual({
      spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'app' }, { name: 'proxy' }], containers: [{ image: 'registry.example/acme/app:9.9', name: 'app' }] } } },
    });
    const status = await kubectl(['rollout', 'status', 'deployment/app', '--timeout=60s'], kenv);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('Waiting for deployment "app" rollout to finish: 1 out of 2 new replicas have been updated...');
    expect(status.stdout).toContain('deployment "app" successfully rolled out');
    const image = await kubectl(['get', 'deployment', 'app', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'], kenv);
    expect(image.stdout).toBe('registry.example/acme/app:9.9');
  });

  it('verifies, patches only the named container by digest with the change-cause, waits as kubectl does; outputs', async () => {
    await replay();
    const report = path.join(dir, 'ok.json');
    const dotenv = path.join(dir, 'ok.env');
    const r = await deployImage(args('1.4', '--kube', 'deployment/app:app', '--report', report, '--dotenv', dotenv), {}, home);
    expectNoStack(r);
    expect(r.code, r.stderr).toBe(0);
    const pinned = `${env.host}/acme/app:1.4@${env.appDigest}`;
    const patches = kube.patches();
    expect(patches).toHaveLength(1);
    expect(patches[0]).toMatchObject({ path: '/apis/apps/v1/namespaces/prod/deployments/app', query: { fieldManager: 'airlock-deploy-image' }, contentType: 'application/strategic-merge-patch+json' });
    expect(JSON.parse(patches[0]!.body!)).toEqual({
      metadata: { annotations: { 'kubernetes.io/change-cause': `airlock deploy-image deployment/app: app=${pinned}` } },
      spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'app' }, { name: 'proxy' }], containers: [{ image: pinned, name: 'app' }] } } },
    });
    const obj = kube.object('Deployment', 'app', 'prod');
    expect(obj.spec.template.spec.containers.map((c: { image: string }) => c.image)).toEqual([pinned, 'registry.example/envoy:1.30']);
    expect(obj.spec.template.spec.initContainers[0].image).toBe(OLD);
    // kubectl's messages, in kubectl's order.
    const waits = r.stderr.split('\n').filter((l) => /Waiting for|successfully rolled out/.test(l)).map((l) => l.trim());
    expect(waits).toEqual([
      'Waiting for deployment spec update to be observed...',
      'Waiting for deployment "app" rollout to finish: 1 out of 2 new replicas have been updated...',
      'Waiting for deployment "app" rollout to finish: 1 old replicas are pending termination...',
      'Waiting for deployment "app" rollout to finish: 1 of 2 updated replicas are available...',
      'deployment "app" successfully rolled out',
    ]);
    expect(r.stderr).toMatch(/OK|✔/);
    const rep = readReport(report);
    expect(rep.ok).toBe(true);
    expect(rep.verification).toMatchObject({ enabled: true, ok: true });
    expect(rep.kube.workloads[0]).toMatchObject({ target: 'deployment/app:app', status: 'rolled-out', containers: [{ name: 'app', from: OLD, to: pinned }] });
    expect(readFileSync(dotenv, 'utf8')).toBe(`AIRLOCK_DEPLOY_OK=true\nAIRLOCK_VERIFIED=true\nAIRLOCK_IMAGES=${pinned}\nAIRLOCK_IMAGE_APP=${pinned}\n`);
    // kubectl sees what airlock did.
    const cause = await kubectl(['get', 'deployment', 'app', '-o', 'jsonpath={.metadata.annotations.kubernetes\\.io/change-cause}'], { KUBECONFIG: kc, HOME: home });
    expect(cause.stdout).toBe(`airlock deploy-image deployment/app: app=${pinned}`);
  });

  it('without a container name: every container (and init container) running the image; statefulset, daemonset, cronjob', async () => {
    await replay();
    const r = await deployImage(
      ['--image', 'registry.example/acme/app:1.4', '--rewrite', `registry.example/acme=${env.host}/acme`, '--key', env.pubKey, '--kubeconfig', kc, '--poll-interval', '20ms', '--kube', 'deployment/app', '--kube', 'sts/db', '--kube', 'daemonset/agent', '--kube', 'cronjob/report', '--json'],
      {},
      home,
    );
    expect(r.code, r.stderr).toBe(0);
    const pinned = `${env.host}/acme/app:1.4@${env.appDigest}`;
    const body = (p: string) => JSON.parse(kube.patches().find((x) => x.path.endsWith(p))!.body!) as { spec: Record<string, any> };
    expect(body('/deployments/app').spec).toEqual({
      template: { spec: { '$setElementOrder/containers': [{ name: 'app' }, { name: 'proxy' }], containers: [{ image: pinned, name: 'app' }], '$setElementOrder/initContainers': [{ name: 'migrate' }], initContainers: [{ image: pinned, name: 'migrate' }] } },
    });
    expect(body('/cronjobs/report').spec).toEqual({ jobTemplate: { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'report' }], containers: [{ image: pinned, name: 'report' }] } } } } });
    expect(kube.patches().map((p) => p.path)).toEqual([
      '/apis/apps/v1/namespaces/prod/deployments/app',
      '/apis/apps/v1/namespaces/prod/statefulsets/db',
      '/apis/apps/v1/namespaces/prod/daemonsets/agent',
      '/apis/batch/v1/namespaces/prod/cronjobs/report',
    ]);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.kube.workloads.map((w) => [w.target, w.status, w.message])).toEqual([
      ['deployment/app', 'rolled-out', 'deployment "app" successfully rolled out'],
      ['sts/db', 'rolled-out', 'partitioned roll out complete: 2 new pods have been updated...'],
      ['daemonset/agent', 'rolled-out', 'daemon set "agent" successfully rolled out'],
      ['cronjob/report', 'updated', 'cronjob "report" updated: the next scheduled job uses the new image'],
    ]);
    expect(r.stderr).toContain('Waiting for 1 pods to be ready...');
    expect(r.stderr).toContain('Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...');
    expect(r.stderr).toContain('Waiting for daemon set "agent" rollout to finish: 1 out of 2 new pods have been updated...');
  });

  it('a failing rollout: ProgressDeadlineExceeded, the pod in ImagePullBackOff with its events, exit 1; the next workload is not touched', async () => {
    await replay();
    const report = path.join(dir, 'fail.json');
    const r = await deployImage(args('1.5-broken', '--kube', 'deployment/app:app', '--kube', 'statefulset/db', '--report', report), {}, home);
    expectNoStack(r);
    expect(r.code).toBe(1);
    const pinned = `${env.host}/acme/app:1.5-broken@${env.appDigest}`;
    expect(r.stderr).toContain('deployment "app" exceeded its progress deadline');
    expect(r.stderr).toContain(`pod app-2bad-zz9 container app: ImagePullBackOff: Back-off pulling image "${pinned}"`);
    expect(r.stderr).toContain(`Warning Failed: Failed to pull image "${pinned}": rpc error: code = NotFound desc = failed to pull and unpack image "${pinned}": not found (x3)`);
    expect(r.stderr).toContain('Warning Failed: Error: ErrImagePull');
    expect(kube.patches()).toHaveLength(1);
    const rep = readReport(report);
    expect(rep.ok).toBe(false);
    expect(rep.kube.workloads.map((w) => w.status)).toEqual(['failed', 'skipped']);
    expect(rep.kube.workloads[0]!.problems).toEqual([
      expect.objectContaining({ pod: 'app-2bad-zz9', container: 'app', reason: 'ImagePullBackOff', message: `Back-off pulling image "${pinned}"` }),
    ]);
    // The pods were looked up by the workload's selector, the events by pod.
    expect(kube.requests.some((q) => q.path === '/api/v1/namespaces/prod/pods' && q.query.labelSelector === 'app=app')).toBe(true);
    expect(kube.requests.some((q) => q.path === '/api/v1/namespaces/prod/events' && q.query.fieldSelector === 'involvedObject.name=app-2bad-zz9,involvedObject.kind=Pod')).toBe(true);
  });

  it('--rollback-on-failure restores the previous image and waits for it', async () => {
    await replay();
    const report = path.join(dir, 'rollback.json');
    const r = await deployImage(args('1.5-broken', '--kube', 'deployment/app:app', '--rollback-on-failure', '--report', report), {}, home);
    expect(r.code).toBe(1);
    const patches = kube.patches().map((p) => JSON.parse(p.body!) as { spec: { template: { spec: { containers: Array<{ image: string }> } } }; metadata: { annotations: Record<string, string> } });
    expect(patches).toHaveLength(2);
    expect(patches[1]!.spec.template.spec.containers).toEqual([{ image: OLD, name: 'app' }]);
    expect(patches[1]!.metadata.annotations['kubernetes.io/change-cause']).toBe(`airlock deploy-image deployment/app: rolled back to app=${OLD} after a failed rollout`);
    expect(kube.object('Deployment', 'app', 'prod').spec.template.spec.containers[0].image).toBe(OLD);
    expect(r.stderr).toContain('✔ rolled back: deployment "app" successfully rolled out');
    const rep = readReport(report);
    expect(rep.kube.workloads[0]).toMatchObject({ status: 'rolled-back', rollback: { status: 'rolled-out' } });
  });

  it('--timeout: a rollout that never finishes fails with kubectl\'s last status', async () => {
    await replay();
    const r = await deployImage(args('1.6-slow', '--kube', 'deployment/app:app', '--timeout', '300ms'), {}, home);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('timed out waiting for the rollout: Waiting for deployment "app" rollout to finish: 1 out of 2 new replicas have been updated...');
    expect(r.stderr).toMatch(/no failing pod found/);
  });

  it('--dry-run prints the exact patch and patches nothing', async () => {
    await replay();
    const r = await deployImage(args('1.4', '--kube', 'deployment/app:app', '--dry-run'), {}, home);
    expect(r.code, r.stderr).toBe(0);
    const pinned = `${env.host}/acme/app:1.4@${env.appDigest}`;
    expect(r.stdout).toBe(
      `PATCH /apis/apps/v1/namespaces/prod/deployments/app?fieldManager=airlock-deploy-image (application/strategic-merge-patch+json)\n${JSON.stringify({
        metadata: { annotations: { 'kubernetes.io/change-cause': `airlock deploy-image deployment/app: app=${pinned}` } },
        spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'app' }, { name: 'proxy' }], containers: [{ image: pinned, name: 'app' }] } } },
      })}\n`,
    );
    expect(kube.patches()).toEqual([]);
  });

  it('API errors as Status objects: 403, 404, 422 fail with the server\'s message and a hint; a 409 is retried', async () => {
    await replay({ faults: [{ method: 'PATCH', path: '/deployments/app', status: 403 }] });
    const forbidden = await deployImage(args('1.4', '--kube', 'deployment/app:app'), {}, home);
    expectNoStack(forbidden);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('error: kubernetes: patch deployment/app in namespace prod: deployments.apps "app" is forbidden: User "system:serviceaccount:ci:deployer" cannot patch resource "deployments" in API group "apps" in the namespace "prod"');
    expect(forbidden.stderr).toMatch(/hint: grant the deploying identity RBAC get and patch/);
    await kube.stop();

    await replay();
    const missing = await deployImage(args('1.4', '--kube', 'deployment/nope'), {}, home);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error: kubernetes: get deployment/nope in namespace prod: deployments.apps "nope" not found');
    expect(missing.stderr).toContain('hint: check the kind, name and --namespace');
    const noContainer = await deployImage(args('1.4', '--kube', 'deployment/app:nginx'), {}, home);
    expect(noContainer.code).toBe(2);
    expect(noContainer.stderr).toContain('error: deployment/app has no container "nginx"');
    expect(noContainer.stderr).toContain('hint: its containers: app, proxy, migrate');
    await kube.stop();

    await replay({ faults: [{ method: 'PATCH', path: '/deployments/app', status: 422 }] });
    const invalid = await deployImage(args('1.4', '--kube', 'deployment/app:app'), {}, home);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('deployments.apps "app" is invalid: spec.template.spec.containers[0].image: Invalid value: "": must not be empty');
    await kube.stop();

    await replay({ faults: [{ method: 'PATCH', path: '/deployments/app', status: 409, times: 1 }] });
    const conflict = await deployImage(args('1.4', '--kube', 'deployment/app:app'), {}, home);
    expect(conflict.code, conflict.stderr).toBe(0);
    expect(kube.patches()).toHaveLength(2);
  });

  it('401 with a wrong token; a good token works and never appears in logs, reports or outputs', async () => {
    await replay({ tokens: ['sekrit-token-0123456789'] });
    const bad = kube.kubeconfig({ token: 'wrong-token-abcdef', namespace: 'prod' });
    const r401 = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--key', env.pubKey, '--kubeconfig', bad, '--kube', 'deployment/app:app'], {}, home);
    expect(r401.code).toBe(1);
    expect(r401.stderr).toContain('error: kubernetes: get deployment/app in namespace prod: Unauthorized');
    expect(r401.stderr).toMatch(/hint: the API server did not accept the credentials of kubeconfig .*, context replay/);
    expect(r401.stderr).not.toContain('wrong-token-abcdef');

    const good = kube.kubeconfig({ token: 'sekrit-token-0123456789', namespace: 'prod' });
    const report = path.join(dir, 'token.json');
    const ok = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--key', env.pubKey, '--kube', 'deployment/app:app', '--poll-interval', '20ms', '--report', report, '--json'], { KUBECONFIG: `/nonexistent/config:${good}` }, home);
    expect(ok.code, ok.stderr).toBe(0);
    expect(kube.patches()[0]!.authorization).toBe('Bearer sekrit-token-0123456789');
    for (const text of [ok.stdout, ok.stderr, readFileSync(report, 'utf8')]) expect(text).not.toContain('sekrit-token');
    // The client key of a certificate kubeconfig is not printed either.
    const keyB64 = readFileSync(kc, 'utf8').match(/client-key-data: (\S+)/)![1]!;
    expect(ok.stdout + ok.stderr).not.toContain(keyB64.slice(0, 40));
  });

  it('exec credential plugins: the token it prints is used; a failing plugin says why', async () => {
    await replay({ tokens: ['exec-token-42'] });
    const plugin = path.join(dir, 'cred-plugin.sh');
    writeFileSync(plugin, `#!/bin/sh\ncase "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) echo "bad exec info" >&2; exit 3;; esac\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token-42"}}'\n`, { mode: 0o755 });
    const failing = path.join(dir, 'failing-plugin.sh');
    writeFileSync(failing, '#!/bin/sh\necho "error: not logged in to the identity provider" >&2\nexit 7\n', { mode: 0o755 });
    const cfg = (cmd: string) => {
      const f = path.join(dir, `exec-${path.basename(cmd)}.yaml`);
      writeFileSync(f, readFileSync(kc, 'utf8').replace(/ {4}client-certificate-data: .*\n {4}client-key-data: .*\n/, `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${cmd}\n      interactiveMode: Never\n`));
      return f;
    };
    const ok = await deployImage(args('1.4', '--kube', 'deployment/app:app').map((a) => (a === kc ? cfg(plugin) : a)), {}, home);
    expect(ok.code, ok.stderr).toBe(0);
    expect(kube.patches()[0]!.authorization).toBe('Bearer exec-token-42');
    expect(kube.patches()[0]!.clientCN).toBeUndefined();
    const bad = await deployImage(args('1.4', '--kube', 'deployment/app:app').map((a) => (a === kc ? cfg(failing) : a)), {}, home);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`error: kubernetes: exec credential plugin ${failing} failed (exit 7): error: not logged in to the identity provider`);
  });

  it('crash loops are explained with the restarts and the back-off events', async () => {
    await replay();
    const r = await deployImage(args('crash', '--kube', 'deployment/app:app'), {}, home);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pod app-2bad-zz9 container app: CrashLoopBackOff: back-off 40s restarting failed container=app .* \(4 restarts\)/);
    expect(r.stderr).toContain('Warning BackOff: Back-off restarting failed container app in pod (x3)');
  });

  it('--file LIST: each line\'s DESTINATION is where the image lives', async () => {
    await replay();
    const list = path.join(dir, 'images.txt');
    writeFileSync(list, `# upstream                      private registry\nregistry.example/acme/app:1.4   ${env.host}/acme/app\n`);
    const r = await deployImage(['--file', list, '--key', env.pubKey, '--kubeconfig', kc, '--kube', 'deployment/app', '--poll-interval', '20ms', '--json'], {}, home);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.images).toEqual([{ input: 'registry.example/acme/app:1.4', reference: `${env.host}/acme/app:1.4@${env.appDigest}`, digest: env.appDigest, key: 'AIRLOCK_IMAGE_APP' }]);
    // Matched by its upstream name: the app and migrate containers run registry.example/acme/app.
    expect(rep.kube.workloads[0]!.containers.map((c) => c.name)).toEqual(['app', 'migrate']);
  });

  it('TLS is verified: without the CA the server is refused with a hint; insecure-skip-tls-verify must be explicit', async () => {
    await replay();
    const noCa = path.join(dir, 'no-ca.yaml');
    writeFileSync(noCa, readFileSync(kc, 'utf8').replace(/ {4}certificate-authority-data: .*\n/, ''));
    const refused = await deployImage(args('1.4', '--kube', 'deployment/app:app').map((a) => (a === kc ? noCa : a)), {}, home);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error: kubernetes: get deployment\/app in namespace prod: TLS to https:\/\/127\.0\.0\.1:\d+ failed: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)/);
    expect(refused.stderr).toContain('hint: the server certificate does not verify with the CA of');
    expect(kube.requests).toEqual([]);
    const insecure = path.join(dir, 'insecure.yaml');
    writeFileSync(insecure, readFileSync(kc, 'utf8').replace(/ {4}certificate-authority-data: .*\n/, '    insecure-skip-tls-verify: true\n'));
    const ok = await deployImage(args('1.4', '--kube', 'deployment/app:app').map((a) => (a === kc ? insecure : a)), {}, home);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('proxy-url: requests go through the HTTP CONNECT proxy the kubeconfig names', async () => {
    await replay();
    const connects: string[] = [];
    const proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, socket, head) => {
      connects.push(String(req.url));
      const [h, p] = String(req.url).split(':');
      const up = net.connect(Number(p), h, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(socket);
        socket.pipe(up);
      });
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    try {
      const viaProxy = path.join(dir, 'proxy.yaml');
      writeFileSync(viaProxy, readFileSync(kc, 'utf8').replace(/( {4}server: .*\n)/, `$1    proxy-url: http://127.0.0.1:${(proxy.address() as AddressInfo).port}\n`));
      const r = await deployImage(args('1.4', '--kube', 'deployment/app:app').map((a) => (a === kc ? viaProxy : a)), {}, home);
      expect(r.code, r.stderr).toBe(0);
      expect(connects.length).toBeGreaterThan(0);
      expect(new Set(connects)).toEqual(new Set([kube.host]));
      expect(kube.patches()).toHaveLength(1);
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  it('in-cluster service account: the token file is read for each request (tokens rotate), the mounted CA verifies the server', async () => {
    await replay({ tokens: ['sa-token-1', 'sa-token-2'] });
    const sa = path.join(dir, 'serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(path.join(sa, 'token'), 'sa-token-1\n');
    writeFileSync(path.join(sa, 'ca.crt'), readFileSync(kube.caFile));
    writeFileSync(path.join(sa, 'namespace'), 'prod\n');
    const [host, port] = kube.host.split(':');
    const target = loadKubeTarget({ env: { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port }, home: path.join(dir, 'no-home'), serviceAccountDir: sa });
    expect(target.namespace).toBe('prod');
    const api = new KubeClient(target);
    try {
      const obj = await api.getWorkload({ kind: 'Deployment', name: 'app', namespace: target.namespace });
      expect((obj.metadata as { name: string }).name).toBe('app');
      writeFileSync(path.join(sa, 'token'), 'sa-token-2\n');
      await api.listPods('prod', 'app=app');
      expect(kube.requests.map((q) => q.authorization)).toEqual(['Bearer sa-token-1', 'Bearer sa-token-2']);
    } finally {
      await api.close();
    }
  });

  it('bad kubeconfig and bad --kube values are input errors (exit 2), before anything is verified or patched', async () => {
    await replay();
    const noCtx = await deployImage(args('1.4', '--kube', 'deployment/app', '--context', 'nope'), {}, home);
    expect(noCtx.code).toBe(2);
    expect(noCtx.stderr).toContain('error: kubernetes: context "nope" is not in kubeconfig');
    expect(noCtx.stderr).toContain('hint: known contexts: replay');
    const kind = await deployImage(args('1.4', '--kube', 'pod/app'), {}, home);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toContain('error: invalid --kube "pod/app": unknown kind "pod"');
    const none = await deployImage(['--image', `${env.host}/acme/app:1.4`, '--key', env.pubKey, '--kube', 'deployment/app'], {}, home);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/error: kubernetes: no Kubernetes credentials: kubeconfig .*\.kube\/config not found and not running in a cluster/);
    expect(kube.requests).toEqual([]);
    for (const r of [noCtx, kind, none]) expectNoStack(r);
  });
});
