import { AirlockError } from '@airlock/oci';
import type { Command } from 'commander';
import type { InputDef, StepDef } from './defs.js';

/**
 * Inputs from the environment, for the CI wrappers (GitLab components, Jenkins steps, the GitHub
 * action): `airlock STEP --inputs-from-env` takes every input from the environment through the
 * step's own StepDef, and turns it into the argv that commander validates as if it had been typed.
 * No value ever passes through a shell.
 *
 * - `AIRLOCK_PARAMS`: one JSON object `{"input-name": value}` (Jenkins, SAP Piper's
 *   PIPER_parametersJSON pattern). Values are typed: strings, numbers, booleans, arrays of strings;
 *   `null` means "not given".
 * - `AIRLOCK_INPUT_<NAME>` (name upper-cased, `-` → `_`): one string per input (GitLab). Booleans are
 *   `true`/`false`, numbers are decimal, arrays are a JSON array (`["a","b"]`, what GitLab
 *   interpolates an array input to) or one value per line. An empty value means "not given".
 *   Where an input is in both, `AIRLOCK_INPUT_<NAME>` wins.
 *
 * Secrets (InputDef.secret) are never inputs here: they stay in their own environment variables
 * (InputDef.env). An unknown input name, a secret, a CLI-only input, bad JSON or a value of the wrong
 * type is a usage error (one line, exit 2).
 */
export const INPUTS_FROM_ENV_FLAG = '--inputs-from-env';
export const PARAMS_VAR = 'AIRLOCK_PARAMS';
export const INPUT_VAR_PREFIX = 'AIRLOCK_INPUT_';

/** `dry-run` → `AIRLOCK_INPUT_DRY_RUN`. */
export function inputEnvName(name: string): string {
  return `${INPUT_VAR_PREFIX}${name.toUpperCase().replace(/-/g, '_')}`;
}

type Value = string | number | boolean | string[];

function usage(msg: string, hint?: string): AirlockError {
  return new AirlockError('USAGE', msg, { hint: hint ?? 'see the step\'s --help for its inputs' });
}

/** The inputs a wrapper may set: everything but secrets (environment only) and CLI-only flags. */
export function wrapperInputs(step: StepDef): InputDef[] {
  return step.inputs.filter((i) => !i.secret && !i.cliOnly);
}

function fromJson(step: StepDef, input: InputDef | undefined, key: string, v: unknown, where: string): Value | undefined {
  if (!input) throw unknownInput(step, key, where);
  if (v === null || v === undefined) return undefined;
  const bad = (what: string) => usage(`${where}: input "${key}" of ${step.name} takes ${what}, got ${JSON.stringify(v)}`);
  switch (input.type) {
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number') return String(v);
      throw bad('a string');
    case 'number':
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
      throw bad('a number');
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw bad('true or false');
    case 'string[]':
      if (typeof v === 'string') return [v];
      if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map(String);
      throw bad('an array of strings');
  }
}

function fromString(step: StepDef, input: InputDef, raw: string, where: string): Value | undefined {
  const v = raw.trim();
  if (v === '') return undefined;
  const bad = (what: string) => usage(`${where}: input "${input.name}" of ${step.name} takes ${what}, got "${v.length > 80 ? `${v.slice(0, 80)}…` : v}"`);
  switch (input.type) {
    case 'string':
      // Not trimmed: a string is taken as given.
      return raw;
    case 'number': {
      const n = Number(v);
      if (!Number.isFinite(n)) throw bad('a number');
      return n;
    }
    case 'boolean':
      if (v === 'true' || v === 'false') return v === 'true';
      throw bad('true or false');
    case 'string[]': {
      if (v.startsWith('[')) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(v);
        } catch {
          throw bad('a JSON array of strings');
        }
        if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string' || typeof x === 'number')) throw bad('a JSON array of strings');
        return parsed.map(String);
      }
      return v.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    }
  }
}

function unknownInput(step: StepDef, key: string, where: string): AirlockError {
  const def = step.inputs.find((i) => i.name === key);
  if (def?.secret) {
    return usage(`${where}: "${key}" is a secret and is read only from the environment variable ${def.env ?? '(none)'}`, `set ${def.env ?? 'it'} as a masked CI variable or credential, never as a parameter`);
  }
  if (def?.cliOnly) return usage(`${where}: "${key}" is a command-line option of ${step.name}, not an input of the CI wrappers`);
  const known = wrapperInputs(step).map((i) => i.name).join(', ');
  return usage(`${where}: ${step.name} has no input "${key}"`, `its inputs are: ${known}`);
}

/** Read the inputs a wrapper set: AIRLOCK_PARAMS (JSON) and AIRLOCK_INPUT_* (strings). */
export function inputsFromEnv(step: StepDef, env: NodeJS.ProcessEnv): Map<string, Value> {
  const byName = new Map(wrapperInputs(step).map((i) => [i.name, i]));
  const values = new Map<string, Value>();
  const json = env[PARAMS_VAR];
  if (json !== undefined && json.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw usage(`${PARAMS_VAR} is not valid JSON (${(e as Error).message.split('\n')[0]})`, `${PARAMS_VAR} must hold one JSON object {"input-name": value}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw usage(`${PARAMS_VAR} must be a JSON object {"input-name": value}`);
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      const value = fromJson(step, byName.get(k), k, v, PARAMS_VAR);
      if (value !== undefined) values.set(k, value);
    }
  }
  const envNames = new Map([...byName.values()].map((i) => [inputEnvName(i.name), i]));
  for (const key of Object.keys(env).sort()) {
    if (!key.startsWith(INPUT_VAR_PREFIX)) continue;
    const raw = env[key] ?? '';
    const input = envNames.get(key);
    if (!input) {
      const name = key.slice(INPUT_VAR_PREFIX.length).toLowerCase().replace(/_/g, '-');
      throw unknownInput(step, name, key);
    }
    const value = fromString(step, input, raw, key);
    if (value === undefined) values.delete(input.name);
    else values.set(input.name, value);
  }
  return values;
}

/** The argv (after the step's name) that the inputs stand for, in StepDef order. */
export function argvFromInputs(step: StepDef, values: Map<string, Value>): string[] {
  const options: string[] = [];
  const positionals: string[] = [];
  for (const input of wrapperInputs(step)) {
    const v = values.get(input.name);
    if (v === undefined) continue;
    if (input.positional) {
      positionals.push(...(Array.isArray(v) ? v : [String(v)]));
      continue;
    }
    if (input.type === 'boolean') {
      // `no-x` inputs are commander negations: true gives --no-x. A default-true input set false gives --no-NAME.
      if (v === true && (input.name.startsWith('no-') || input.default !== true)) options.push(`--${input.name}`);
      if (v === false && input.default === true && !input.name.startsWith('no-')) options.push(`--no-${input.name}`);
      continue;
    }
    // `--name=value`: a value that starts with "-" cannot be taken for an option.
    for (const item of Array.isArray(v) ? v : [v]) options.push(`--${input.name}=${String(item)}`);
  }
  const missing = step.inputs.filter((i) => i.required && i.positional && !values.has(i.name));
  if (missing.length) {
    throw usage(`${step.name} needs the input${missing.length > 1 ? 's' : ''} ${missing.map((i) => `"${i.name}" (${inputEnvName(i.name)})`).join(', ')}`);
  }
  // `--` ends the options: an image named "-x" stays an image.
  return positionals.length ? [...options, '--', ...positionals] : options;
}

/** The StepDef a command was built from (commandFor records it). */
const steps = new WeakMap<Command, StepDef>();
export function recordStep(cmd: Command, step: StepDef): void {
  steps.set(cmd, step);
}

/**
 * Replace `--inputs-from-env` with the inputs from the environment. `args` are the user arguments
 * (no node/script); the command they select is found by walking subcommand names from `program`.
 * A command loaded lazily (no StepDef yet) keeps the flag: its real command expands it later.
 */
export function expandInputsFromEnv(program: Command, args: string[], env: NodeJS.ProcessEnv): string[] {
  const at = args.indexOf(INPUTS_FROM_ENV_FLAG);
  if (at < 0) return args;
  let cmd = program;
  let i = 0;
  for (; i < at; i++) {
    const sub = cmd.commands.find((c) => c.name() === args[i] || c.aliases().includes(args[i] ?? ''));
    if (!sub) break;
    cmd = sub;
  }
  const step = steps.get(cmd);
  if (!step) {
    if (cmd.commands.length === 0 && cmd !== program) return args; // a lazy stub: expanded when loaded
    if (cmd === program && cmd.commands.length === 0) return args;
    throw usage(`${INPUTS_FROM_ENV_FLAG} must follow a step name, e.g. airlock copy ${INPUTS_FROM_ENV_FLAG}`);
  }
  const rest = args.slice(i).filter((a) => a !== INPUTS_FROM_ENV_FLAG);
  if (rest.length) {
    throw usage(`${INPUTS_FROM_ENV_FLAG} takes every input from the environment: unexpected argument "${rest[0]}"`, `set ${PARAMS_VAR} or ${INPUT_VAR_PREFIX}<NAME> instead`);
  }
  return [...args.slice(0, i), ...argvFromInputs(step, inputsFromEnv(step, env))];
}
