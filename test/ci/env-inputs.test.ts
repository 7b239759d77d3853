import { describe, expect, it } from 'vitest';
import { copyStep, mirrorStep } from '@airlock/copy/inputs';
import { parseLocation, type TransferJob } from '@airlock/oci';
import { argvFromInputs, dotenvLines, DOTENV_MAX_BYTES, imageKey, inputEnvName, inputsFromEnv, parseShard, selectShard } from '@airlock/step-kit';
import { signStep } from '@airlock/sign/inputs';
import { runCli } from '../helpers/cli.js';

const argv = (step: typeof copyStep, env: NodeJS.ProcessEnv) => argvFromInputs(step, inputsFromEnv(step, env));

describe('inputs from the environment', () => {
  it('AIRLOCK_INPUT_<NAME>: upper-cased, - as _; arrays (JSON or lines) repeat the option; booleans are flags; positionals after --', () => {
    expect(inputEnvName('dry-run')).toBe('AIRLOCK_INPUT_DRY_RUN');
    expect(
      argv(copyStep, {
        AIRLOCK_INPUT_SOURCE: 'a.example/x:1',
        AIRLOCK_INPUT_DESTINATION: '-odd/name:1',
        AIRLOCK_INPUT_PLATFORM: ' ["linux/amd64","linux/arm64"]',
        AIRLOCK_INPUT_DRY_RUN: 'true',
        AIRLOCK_INPUT_FORCE: 'false',
        AIRLOCK_INPUT_NO_REFERRERS: 'true',
        AIRLOCK_INPUT_CONCURRENCY: '3',
        AIRLOCK_INPUT_CHUNK_SIZE: '',
        AIRLOCK_INPUT_INSECURE_REGISTRY: 'h1:5000\nh2:5000\n',
      }),
    ).toEqual(['--platform=linux/amd64', '--platform=linux/arm64', '--no-referrers', '--concurrency=3', '--dry-run', '--insecure-registry=h1:5000', '--insecure-registry=h2:5000', '--', 'a.example/x:1', '-odd/name:1']);
  });

  it('AIRLOCK_PARAMS: one typed JSON object; null is "not given"; AIRLOCK_INPUT_* wins over it', () => {
    expect(argv(signStep, { AIRLOCK_PARAMS: JSON.stringify({ images: ['r/a:1', 'r/b:1'], key: 'k.key', recursive: true, annotations: ['a=b'], identity: null }), AIRLOCK_INPUT_KEY: 'other.key' })).toEqual([
      '--key=other.key',
      '--annotations=a=b',
      '--recursive',
      '--',
      'r/a:1',
      'r/b:1',
    ]);
  });

  it('rejects unknown inputs, secrets, CLI-only flags, bad JSON and wrong types with a usage error naming the variable', () => {
    const err = (env: NodeJS.ProcessEnv) => {
      try {
        argv(copyStep, env);
      } catch (e) {
        return `${(e as { code: string }).code}: ${(e as Error).message}`;
      }
      return 'no error';
    };
    expect(err({ AIRLOCK_INPUT_SOURCES: 'x' })).toBe('USAGE: AIRLOCK_INPUT_SOURCES: copy has no input "sources"');
    expect(err({ AIRLOCK_PARAMS: '{"registry-password":"p"}' })).toMatch(/^USAGE: AIRLOCK_PARAMS: "registry-password" is a secret .* AIRLOCK_REGISTRY_PASSWORD$/);
    expect(err({ AIRLOCK_PARAMS: '{"json":true}' })).toMatch(/^USAGE: .*"json" is a command-line option/);
    expect(err({ AIRLOCK_PARAMS: '{"source":' })).toMatch(/^USAGE: AIRLOCK_PARAMS is not valid JSON/);
    expect(err({ AIRLOCK_PARAMS: '["source"]' })).toMatch(/^USAGE: AIRLOCK_PARAMS must be a JSON object/);
    expect(err({ AIRLOCK_PARAMS: '{"force":"yes"}' })).toMatch(/^USAGE: AIRLOCK_PARAMS: input "force" of copy takes true or false/);
    expect(err({ AIRLOCK_INPUT_CONCURRENCY: 'many' })).toMatch(/^USAGE: AIRLOCK_INPUT_CONCURRENCY: input "concurrency" of copy takes a number/);
    expect(err({ AIRLOCK_INPUT_PLATFORM: '[1,' })).toMatch(/takes a JSON array of strings/);
    expect(err({ AIRLOCK_INPUT_SOURCE: 'x' })).toMatch(/^USAGE: copy needs the input "destination" \(AIRLOCK_INPUT_DESTINATION\)$/);
  });

  it('the CLI: --inputs-from-env validates as commander does; errors are exit 2 without a stack; other arguments are refused', async () => {
    const bad = await runCli(['mirror', '--inputs-from-env'], { env: { AIRLOCK_PARAMS: '{"file":"l.txt","shard":"4/3"}' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: invalid shard --shard 4\/3/);
    const unknown = await runCli(['copy', '--inputs-from-env'], { env: { AIRLOCK_INPUT_NOPE: '1' } });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toBe('error: AIRLOCK_INPUT_NOPE: copy has no input "nope"');
    const extra = await runCli(['copy', '--inputs-from-env', 'a'], {});
    expect(extra.code).toBe(2);
    const lazy = await runCli(['verify', '--inputs-from-env'], { env: { AIRLOCK_PARAMS: '{"image":["oci:/nonexistent-airlock:x"],"identiti":"y"}' } });
    expect(lazy.code).toBe(2);
    expect(lazy.stderr).toMatch(/verify has no input "identiti"/);
    const standalone = await runCli(['--inputs-from-env'], { bundle: 'mirror.cjs', env: { AIRLOCK_INPUT_FILE: '/nonexistent-airlock/list.txt' } });
    expect(standalone.code).toBe(2);
    expect(standalone.stderr).toMatch(/cannot read image list \/nonexistent-airlock\/list.txt/);
  });
});

describe('dotenv outputs', () => {
  it('KEY=value lines, keys [A-Za-z0-9_], no quotes (JSON outputs left out), unique per-image keys, at most 5 KB', () => {
    expect(imageKey('127.0.0.1:5000/acme/app:v1')).toBe('ACME_APP_V1');
    expect(imageKey('docker.io/library/nginx:1.27@sha256:' + 'a'.repeat(64))).toBe('LIBRARY_NGINX_1_27');
    expect(imageKey('oci:/media/bundle:app-2')).toBe('BUNDLE_APP_2');
    const digest = `sha256:${'b'.repeat(64)}`;
    const many = Array.from({ length: 100 }, (_, i) => ({ name: i < 2 ? 'ACME_APP_V1' : `ACME_IMAGE_NUMBER_${i}`, reference: `r/${i}`, digest }));
    const { lines, dropped } = dotenvLines({ values: { images: '100', failed: '0', digests: '{"a":"b"}' }, digests: many });
    expect(lines.slice(0, 4)).toEqual(['AIRLOCK_IMAGES=100', 'AIRLOCK_FAILED=0', `AIRLOCK_DIGEST_ACME_APP_V1=${digest}`, `AIRLOCK_DIGEST_ACME_APP_V1_2=${digest}`]);
    const text = `${lines.join('\n')}\n`;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(DOTENV_MAX_BYTES);
    expect(dropped).toBe(100 - (lines.length - 2));
    expect(dropped).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^[A-Za-z0-9_]+=[^"'\n]*$/);
  });
});

describe('mirror shards', () => {
  const jobs: TransferJob[] = Array.from({ length: 10 }, (_, i) => ({ source: parseLocation(`src.example/img-${i}:1`), destination: parseLocation(`dst.example/img-${i}:1`) }));
  it('disjoint, covering, balanced by count, independent of list order', () => {
    const shards = [1, 2, 3].map((index) => selectShard(jobs, { index, total: 3 }));
    expect(shards.map((s) => s.length).sort()).toEqual([3, 3, 4]);
    const all = shards.flat().map((j) => j.source.input).sort();
    expect(all).toEqual(jobs.map((j) => j.source.input).sort());
    const reversed = [1, 2, 3].map((index) => selectShard([...jobs].reverse(), { index, total: 3 }).map((j) => j.source.input).sort());
    expect(reversed).toEqual(shards.map((s) => s.map((j) => j.source.input).sort()));
  });
  it('--shard ci reads CI_NODE_INDEX/CI_NODE_TOTAL; unset or a total of 1 is the whole list', () => {
    expect(parseShard('ci', { CI_NODE_INDEX: '2', CI_NODE_TOTAL: '3' })).toEqual({ index: 2, total: 3 });
    expect(parseShard('ci', {})).toBeUndefined();
    expect(parseShard('1/1', {})).toBeUndefined();
    expect(parseShard('', {})).toBeUndefined();
    expect(() => parseShard('ci', { CI_NODE_INDEX: '0', CI_NODE_TOTAL: '3' })).toThrow(/invalid shard CI_NODE_INDEX=0 CI_NODE_TOTAL=3/);
    expect(() => parseShard('2', {})).toThrow(/invalid shard --shard 2/);
  });
  it('mirror declares the shard and dotenv inputs and its outputs', () => {
    expect(mirrorStep.inputs.map((i) => i.name)).toEqual(expect.arrayContaining(['shard', 'dotenv']));
    expect(mirrorStep.outputs?.map((o) => o.name)).toEqual(['images', 'failed', 'digests', 'references']);
  });
});
