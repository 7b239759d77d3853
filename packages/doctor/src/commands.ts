import type { Command } from 'commander';
import { commandFor, connectionFlags } from '@airlock/step-kit';
import { doctorStep } from './inputs.js';
import { buildReport, redact, renderText } from './report.js';
import { runDoctor } from './run.js';
import { parseTarget } from './target.js';

/** `airlock doctor [REF|HOST]`: the report on stdout (or JSON with --json); exit 1 when a check failed. */
export function buildDoctorCommand(setExit: (code: number) => void): Command {
  return commandFor(doctorStep, async (args, o) => {
    const target = parseTarget(args[0], process.env);
    const timeoutMs = Math.max(1, Number(o.timeout ?? 10)) * 1000;
    const { checks, secrets } = await runDoctor(target, {
      flags: connectionFlags(o),
      requirePush: !!o.requirePush,
      requireSignature: !!o.requireSignature,
      timeoutMs,
      env: process.env,
      now: new Date(),
    });
    const report = redact(buildReport(target, checks), secrets);
    const text = renderText(report);
    if (o.json) {
      process.stderr.write(text);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      process.stdout.write(text);
    }
    setExit(report.ok ? 0 : 1);
  });
}
