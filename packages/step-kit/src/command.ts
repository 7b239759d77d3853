import { Command, Option } from 'commander';
import type { StepDef } from './defs.js';
import { INPUTS_FROM_ENV_FLAG, recordStep } from './env-inputs.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} takes a non-negative number, got "${v}"`);
    return n;
  };
}

/** Build a commander command from a step definition. Secrets are not exposed as options. */
export function commandFor(step: StepDef, action: (args: string[], opts: Record<string, unknown>) => Promise<void>): Command {
  const cmd = new Command(step.name).description(step.summary);
  for (const input of step.inputs) {
    if (input.secret) continue;
    if (input.positional) {
      const label = input.valueName ?? input.name.toUpperCase();
      cmd.argument(input.required ? `<${label}>` : `[${label}]`, input.description);
      continue;
    }
    const flag = input.type === 'boolean' ? `--${input.name}` : `--${input.name} <${input.valueName ?? 'VALUE'}>`;
    const opt = new Option(input.short ? `-${input.short}, ${flag}` : flag, input.description);
    if (input.type === 'string[]') opt.argParser(collect);
    if (input.type === 'number') opt.argParser(parseNumber(input.name));
    // `--no-x` flags are commander negations: x defaults to true, and a default here would flip it.
    const negated = input.type === 'boolean' && input.name.startsWith('no-');
    if (!negated && input.default !== undefined && !(Array.isArray(input.default) && input.default.length === 0)) opt.default(input.default);
    if (input.env) opt.env(input.env);
    cmd.addOption(opt);
  }
  cmd.addOption(new Option(INPUTS_FROM_ENV_FLAG, 'read every input from the environment: AIRLOCK_PARAMS (one JSON object) and AIRLOCK_INPUT_<NAME> (for CI wrappers)'));
  recordStep(cmd, step);
  cmd.addHelpText('after', `\n${step.help.trim()}\n`);
  cmd.action(async (...a: unknown[]) => {
    const c = a[a.length - 1] as Command;
    await action(c.args, c.opts());
  });
  return cmd;
}
