import { Command, Option } from 'commander';
import { AirlockError, quote } from '@airlock/oci';
import type { InputDef, StepDef } from './defs.js';
import { INPUTS_FROM_ENV_FLAG, recordStep } from './env-inputs.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * A whole number within the input's bounds. Anything else (`abc`, `-1`, `1e9`, `0x10`, `2.5`) is a
 * usage error (exit 2) naming the option and what it takes.
 */
export function parseWholeNumber(input: Pick<InputDef, 'name' | 'min' | 'max'>) {
  const min = input.min ?? 0;
  const max = input.max ?? Number.MAX_SAFE_INTEGER;
  const range = input.max === undefined ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`;
  return (v: string): number => {
    const t = v.trim();
    const n = /^\d{1,16}$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new AirlockError('USAGE', `--${input.name} takes ${range}, got ${quote(v)}`, { hint: `see the --${input.name} option in --help` });
    }
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
    if (input.type === 'number') opt.argParser(parseWholeNumber(input));
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
