/**
 * Run the verify commands as users do: `node dist/verify.cjs` for verify; for verify-attestation and
 * verify-blob, `node dist/airlock.cjs` once the airlock CLI wires them, else a bundle built here from
 * the exported builders (exactly what the airlock CLI adds), also with plain node and a clean env.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { runCli, type CliResult } from '../../../../test/helpers/cli.js';
import { repoRoot } from '../../../../test/helpers/images.js';

let testBundle: Promise<string> | undefined;

function airlockHas(command: string): boolean {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'airlock.cjs'), command, '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  return r.status === 0 && r.stdout.includes(`Usage: airlock ${command}`);
}

/** A CLI with verify, verify-attestation and verify-blob from @airlock/verify's builders. */
function buildTestBundle(): Promise<string> {
  testBundle ??= (async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'airlock-verifycli-')), 'airlock-verify.cjs');
    await build({
      stdin: {
        contents: `
          import { Command } from 'commander';
          import { runCli } from '@airlock/step-kit';
          import { buildVerifyCommand, buildVerifyAttestationCommand, buildVerifyBlobCommand } from '@airlock/verify';
          void runCli((setExit) => new Command('airlock')
            .addCommand(buildVerifyCommand(setExit))
            .addCommand(buildVerifyAttestationCommand(setExit))
            .addCommand(buildVerifyBlobCommand(setExit)));
        `,
        resolveDir: repoRoot,
        loader: 'ts',
      },
      outfile: out,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'warning',
    });
    return out;
  })();
  return testBundle;
}

const wired = new Map<string, boolean>();

/** `airlock COMMAND ARGS...` (COMMAND: verify-attestation or verify-blob). */
export async function runVerifyCommand(command: 'verify' | 'verify-attestation' | 'verify-blob', args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  if (!wired.has(command)) wired.set(command, airlockHas(command));
  if (wired.get(command)) return runCli([command, ...args], opts);
  const bundle = await buildTestBundle();
  return runCli([command, ...args], { ...opts, bundle: path.relative(path.join(repoRoot, 'dist'), bundle) });
}
