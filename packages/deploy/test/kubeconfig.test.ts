/** Kubeconfig loading as kubectl does it: merge order, relative paths, in-cluster, auth forms, errors. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KubeError } from '../src/external/errors.js';
import { loadKubeTarget } from '../src/external/kubeconfig.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function setup() {
  const dir = mkdtempSync(path.join(tmpdir(), 'airlock-kubeconfig-'));
  const w = (name: string, text: string) => {
    const f = path.join(dir, name);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, text);
    return f;
  };
  return { dir, w };
}

const A = `apiVersion: v1
kind: Config
current-context: a
clusters:
- name: c1
  cluster:
    server: https://a.example:6443
    certificate-authority: certs/ca.crt
- name: shared
  cluster:
    server: https://from-a.example
contexts:
- name: a
  context: {cluster: c1, user: u1, namespace: team-a}
- name: s
  context: {cluster: shared, user: u1}
users:
- name: u1
  user:
    client-certificate: certs/client.crt
    client-key: certs/client.key
`;

const B = `apiVersion: v1
kind: Config
current-context: b
clusters:
- name: shared
  cluster:
    server: https://from-b.example
    insecure-skip-tls-verify: true
    proxy-url: http://proxy.example:3128
- name: c2
  cluster:
    server: https://b.example
    certificate-authority-data: ${b64('CA-B')}
    tls-server-name: api.internal
contexts:
- name: b
  context: {cluster: c2, user: u2}
users:
- name: u2
  user:
    tokenFile: token
- name: u1
  user:
    token: from-b
`;

describe('kubeconfig loading', () => {
  it('KUBECONFIG files merge as kubectl merges them: first file wins names and current-context; missing files are skipped; paths are relative to their file', () => {
    const { dir, w } = setup();
    const a = w('a/config', A);
    const b = w('b/config', B);
    w('a/certs/ca.crt', 'CA-A');
    w('a/certs/client.crt', 'CERT');
    w('a/certs/client.key', 'KEY');
    const t = loadKubeTarget({ env: { KUBECONFIG: `${path.join(dir, 'missing')}:${a}:${b}` } });
    expect(t).toMatchObject({ context: 'a', server: 'https://a.example:6443', namespace: 'team-a', insecureSkipTlsVerify: false });
    expect(t.ca?.toString()).toBe('CA-A');
    expect(t.auth.clientCert?.toString()).toBe('CERT');
    expect(t.auth.clientKey?.toString()).toBe('KEY');
    expect(t.auth.token).toBeUndefined();
    // "shared" is defined by both: a's wins; u1 too.
    const s = loadKubeTarget({ env: { KUBECONFIG: `${a}:${b}` }, context: 's' });
    expect(s.server).toBe('https://from-a.example');
    expect(s.namespace).toBe('default');
    // b first: its current-context, its token file (relative to b), its CA data and server name.
    const tb = loadKubeTarget({ env: { KUBECONFIG: `${b}:${a}` }, namespace: 'override' });
    expect(tb).toMatchObject({ context: 'b', server: 'https://b.example', namespace: 'override', tlsServerName: 'api.internal' });
    expect(tb.ca?.toString()).toBe('CA-B');
    expect(tb.auth.tokenFile).toBe(path.join(dir, 'b', 'token'));
    const sb = loadKubeTarget({ env: { KUBECONFIG: `${b}:${a}` }, context: 's' });
    expect(sb).toMatchObject({ server: 'https://from-b.example', insecureSkipTlsVerify: true, proxyUrl: 'http://proxy.example:3128' });
    expect(sb.auth.token).toBe('from-b');
  });

  it('--kubeconfig beats KUBECONFIG; ~/.kube/config is the default; exec plugins resolve relative commands', () => {
    const { dir, w } = setup();
    const home = path.join(dir, 'home');
    w('home/.kube/config', B.replace('tokenFile: token', 'exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./bin/cred\n      args: [get-token]\n      env: [{name: X, value: "1"}]'));
    const t = loadKubeTarget({ env: {}, home });
    expect(t.auth.exec).toMatchObject({ command: path.join(home, '.kube', 'bin', 'cred'), args: ['get-token'], env: [{ name: 'X', value: '1' }] });
    expect(t.source).toBe(`kubeconfig ${path.join(home, '.kube', 'config')}, context b`);
    const explicit = w('explicit', A.replace('certificate-authority: certs/ca.crt', `certificate-authority-data: ${b64('X')}`).replace(/ {4}client-certificate: .*\n {4}client-key: .*\n/, '    username: admin\n    password: pw\n'));
    const e = loadKubeTarget({ kubeconfig: explicit, env: { KUBECONFIG: path.join(dir, 'home', '.kube', 'config') } });
    expect(e.server).toBe('https://a.example:6443');
    expect(e.auth.basic).toEqual({ username: 'admin', password: 'pw' });
  });

  it('in-cluster: the service account when no kubeconfig exists', () => {
    const { dir, w } = setup();
    w('sa/token', 'sa-token\n');
    w('sa/ca.crt', 'SA-CA');
    w('sa/namespace', 'ci-deployer\n');
    const t = loadKubeTarget({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, home: path.join(dir, 'nohome'), serviceAccountDir: path.join(dir, 'sa') });
    expect(t).toMatchObject({ source: 'the in-cluster service account', server: 'https://10.96.0.1:443', namespace: 'ci-deployer', auth: { tokenFile: path.join(dir, 'sa', 'token') } });
    expect(t.ca?.toString()).toBe('SA-CA');
    const v6 = loadKubeTarget({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, home: path.join(dir, 'nohome'), serviceAccountDir: path.join(dir, 'sa') });
    expect(v6.server).toBe('https://[fd00::1]:443');
  });

  it('errors are KUBE_CONFIG with a hint: nothing found, unknown context, broken YAML, half a client certificate, removed auth providers', () => {
    const { dir, w } = setup();
    const expectConfig = (f: () => unknown, msg: RegExp) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(KubeError);
        expect((e as KubeError).code).toBe('KUBE_CONFIG');
        expect((e as KubeError).message).toMatch(msg);
        expect((e as KubeError).hint).toBeTruthy();
        return;
      }
      throw new Error('no error');
    };
    expectConfig(() => loadKubeTarget({ env: {}, home: path.join(dir, 'none') }), /no Kubernetes credentials/);
    const a = w('a', A);
    expectConfig(() => loadKubeTarget({ kubeconfig: a, context: 'x' }), /context "x" is not in kubeconfig/);
    expectConfig(() => loadKubeTarget({ kubeconfig: w('bad', 'clusters: [\n') }), /is not valid YAML/);
    expectConfig(() => loadKubeTarget({ kubeconfig: w('types', 'clusters: 3\n') }), /invalid at clusters/);
    expectConfig(() => loadKubeTarget({ kubeconfig: w('half', A.replace(/ {4}client-key: .*\n/, '').replace('certificate-authority: certs/ca.crt', '')) }), /client certificate without its key|cannot read client certificate/);
    expectConfig(() => loadKubeTarget({ kubeconfig: w('gcp', A.replace(/ {4}client-certificate: .*\n {4}client-key: .*\n/, '    auth-provider:\n      name: gcp\n').replace('certificate-authority: certs/ca.crt', '')) }), /removed auth-provider "gcp"/);
    expectConfig(() => loadKubeTarget({ kubeconfig: path.join(dir, 'nope') }), /does not exist/);
  });
});
