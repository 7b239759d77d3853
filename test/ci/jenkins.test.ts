import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeImages, pushLayoutToRegistry, type ImageLayout } from '../helpers/images.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { makeTempDir } from '../helpers/tmp.js';
import { runPipelineScript, type Call } from './jenkins/harness.js';

const PASSWORD = 'jenkins key password';
const of = (calls: Call[], step: string) => calls.filter((c) => c.step === step);
const paramsOf = (withEnv: Call) => JSON.parse((withEnv.args as string[]).find((e) => typeof e === 'string' && e.startsWith('AIRLOCK_PARAMS='))!.slice('AIRLOCK_PARAMS='.length)) as Record<string, unknown>;

describe('Jenkins shared library (vars/ over airlockExecute) in a Groovy harness, steps run for real', () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  let images: ImageLayout;
  let digest: string;
  let key: string;
  let pub: string;

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    images = await makeImages({ images: 1, layers: 1, layerMb: 0.02, seed: 77 });
    digest = (await pushLayoutToRegistry(images.layoutDir, 'img-0', src, 'acme/app', 'v1')).digest;
    const keys = makeTempDir('keys');
    const gen = await runCli(['key', 'generate', '--output-key-prefix', path.join(keys, 'cosign')], { env: { COSIGN_PASSWORD: PASSWORD } });
    expect(gen.code, gen.stderr).toBe(0);
    key = readFileSync(path.join(keys, 'cosign.key'), 'utf8');
    pub = readFileSync(path.join(keys, 'cosign.pub'), 'utf8');
  });
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop(), images?.remove()]);
  });

  it('copy → sign → verify with usernamePassword, file and string credentials: parameters in AIRLOCK_PARAMS, secrets only via withCredentials, sh never a GString', async () => {
    const D = dst.host;
    const script = `
airlockCopy(source: '${src.host}/acme/app:v1', destination: '${D}/acme/app:v1', registry: '${D}', registryCredentialsId: 'dst-login')
airlockSign(images: ['${D}/acme/app:v1'], keyCredentialsId: 'cosign-key', cosignPasswordCredentialsId: 'cosign-password', registry: '${D}', registryCredentialsId: 'dst-login')
airlockVerify(image: ['${D}/acme/app:v1'], key: ['cosign.pub'], registry: '${D}', registryCredentialsId: 'dst-login')
`;
    const r = await runPipelineScript(script, {
      files: { 'cosign.pub': pub },
      credentials: { 'dst-login': { username: dst.username, password: dst.password }, 'cosign-key': { file: key }, 'cosign-password': { text: PASSWORD } },
    });
    expect(r.error, r.stderr).toBeNull();
    expect(r.violations).toEqual([]);

    // The bundle comes from the library resources, written once, byte-exact.
    expect(of(r.calls, 'libraryResource')).toEqual([{ step: 'libraryResource', args: { resource: 'airlock/airlock.cjs', encoding: 'Base64' } }]);
    expect(of(r.calls, 'writeFile')[0]!.args).toMatchObject({ file: '.airlock/airlock.cjs', encoding: 'Base64' });
    expect(readFileSync(path.join(r.workspace, '.airlock/airlock.cjs')).equals(readFileSync(path.resolve('dist/airlock.cjs')))).toBe(true);

    // Credentials declared as data, bound by withCredentials.
    const creds = of(r.calls, 'withCredentials').map((c) => (c.args as { type: string; credentialsId: string }[]).map((b) => `${b.type}:${b.credentialsId}`));
    expect(creds).toEqual([['usernamePassword:dst-login'], ['usernamePassword:dst-login', 'file:cosign-key', 'string:cosign-password'], ['usernamePassword:dst-login']]);

    // One constant sh script (a String), the parameters as one JSON object; no secret in either.
    const sh = of(r.calls, 'sh');
    expect(sh).toHaveLength(3);
    for (const c of sh) {
      expect(c.args.scriptClass).toBe('java.lang.String');
      expect(c.args.script).toBe(sh[0]!.args.script);
      expect(c.args.script).toContain('node "$AIRLOCK_BUNDLE" $AIRLOCK_STEP --inputs-from-env');
      expect(c.args.status).toBe(0);
    }
    const envs = of(r.calls, 'withEnv');
    for (const e of envs) {
      const text = JSON.stringify(e.args);
      for (const secret of [dst.password!, PASSWORD, key.split('\n')[1]!]) expect(text).not.toContain(secret);
      expect((e.args as unknown[]).at(-1)).toEqual(Array((e.args as unknown[]).length - 1).fill('java.lang.String'));
    }
    expect(paramsOf(envs[0]!)).toEqual({ source: `${src.host}/acme/app:v1`, destination: `${D}/acme/app:v1`, report: 'airlock-reports/copy.json', junit: 'airlock-reports/copy.xml', dotenv: 'airlock-reports/copy.env' });
    const signParams = paramsOf(envs[1]!);
    expect(signParams.images).toEqual([`${D}/acme/app:v1`]);
    expect(String(signParams.key)).toMatch(/^\/.*secret.*\.file$/);
    expect(envs[1]!.args).toContain(`AIRLOCK_REGISTRY=${D}`);

    // Reports recorded; the steps really ran against the registries.
    expect(of(r.calls, 'junit').map((c) => c.args.testResults)).toEqual(['airlock-reports/copy.xml', 'airlock-reports/verify.xml']);
    expect(of(r.calls, 'archiveArtifacts').map((c) => c.args.artifacts)).toEqual([
      'airlock-reports/copy.json,airlock-reports/copy.xml,airlock-reports/copy.env',
      'airlock-reports/sign.json',
      'airlock-reports/verify.json,airlock-reports/verify.xml,airlock-reports/verify.env',
    ]);
    expect(readFileSync(path.join(r.workspace, 'airlock-reports/copy.env'), 'utf8')).toContain(`AIRLOCK_DIGEST=${digest}\n`);
    expect(JSON.parse(readFileSync(path.join(r.workspace, 'airlock-reports/verify.json'), 'utf8'))).toMatchObject({ ok: true, totals: { images: 1, ok: 1 } });
    expect(of(r.calls, 'error')).toEqual([]);
  });

  it('a failing image stops the build with the step\'s one-line message, after its JUnit report is recorded', async () => {
    const r = await runPipelineScript(`airlockMirror(file: 'images.txt', platform: ['linux/amd64'])\n`, {
      files: { 'images.txt': `${src.host}/acme/app:v1 ${src.host}/copied/app:v1\n${src.host}/acme/missing:v1 ${src.host}/copied/missing:v1\n` },
    });
    expect(r.violations).toEqual([]);
    expect(r.error).toMatch(/^airlockMirror: airlock mirror: 1 image failed: .*acme\/missing:v1 → .*copied\/missing:v1: /);
    expect(r.error).not.toContain('\n');
    const steps = r.calls.map((c) => c.step);
    expect(steps.indexOf('junit')).toBeLessThan(steps.indexOf('error'));
    expect(paramsOf(of(r.calls, 'withEnv')[0]!)).toMatchObject({ file: 'images.txt', platform: ['linux/amd64'], report: 'airlock-reports/mirror.json' });
    expect(readFileSync(path.join(r.workspace, 'airlock-reports/mirror.xml'), 'utf8').match(/<failure /g)).toHaveLength(1);
  });

  it('an unknown parameter, a bad value and a usage error stop the build with one line, before or from the step', async () => {
    const unknown = await runPipelineScript(`airlockCopy(source: 'a.example/x:1', destination: 'b.example/x:1', sourc: 'typo')\n`);
    expect(unknown.error).toMatch(/^airlockCopy: unknown parameter sourc \(parameters: source, destination, /);
    expect(of(unknown.calls, 'sh')).toEqual([]);
    const bad = await runPipelineScript(`airlockCopy(source: 'a.example/x:1', destination: 'b.example/x:1', concurrency: 'many')\n`);
    expect(bad.error).toBe('airlockCopy: AIRLOCK_PARAMS: input "concurrency" of copy takes a number, got "many"');
    expect(of(bad.calls, 'sh')[0]!.args.status).toBe(2);
  });
});
