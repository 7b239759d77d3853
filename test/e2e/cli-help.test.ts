import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('airlock --help teaches', () => {
  it('lists every command, and each command (loaded lazily or not) explains itself', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    const commands = ['copy', 'mirror', 'key', 'sign', 'attest', 'attach', 'sign-blob', 'verify', 'verify-attestation', 'verify-blob', 'doctor', 'chart', 'image', 'sync', 'deploy-image', 'bundle'];
    for (const c of commands) expect(top.stdout).toMatch(new RegExp(`\\n  ${c}\\b`));
    for (const args of [['copy'], ['mirror'], ['sign'], ['attest'], ['sign-blob'], ['verify'], ['verify-attestation'], ['verify-blob'], ['doctor'], ['key', 'generate'], ['attach', 'sbom'], ['chart', 'copy'], ['chart', 'images'], ['image', 'build'], ['sync'], ['deploy-image'], ['bundle', 'create'], ['bundle', 'load'], ['bundle', 'verify']]) {
      const r = await runCli([...args, '--help']);
      expect(r.code, `${args.join(' ')} --help`).toBe(0);
      expect(r.stdout, `${args.join(' ')} --help`).toMatch(/Usage: airlock /);
      expect(r.stdout, `${args.join(' ')} --help`).toMatch(/Exit codes|exit codes/i);
      expect(r.stdout, `${args.join(' ')} --help: interrupted`).toMatch(/130 +interrupted by SIGINT \(Ctrl-C\), 143 by SIGTERM/);
    }
    expect(top.stdout).toMatch(/130\/143 interrupted by\s+SIGINT\/SIGTERM/);
    // --to and --rewrite together: the precedence is documented where they are.
    const mirror = await runCli(['mirror', '--help']);
    expect(mirror.stdout).toMatch(/first --rewrite OLD=NEW whose OLD/);
    expect(mirror.stdout).toMatch(/--to PREFIX, for the names no rewrite matches/);
  });

  it('an unknown command or option is a usage error (exit 2)', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(2);
    expect((await runCli(['sign', '--frobnicate'])).code).toBe(2);
    expect((await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
