/**
 * The GitHub action (action.yml, bundled to dist/action.cjs). The runner starts it with the inputs
 * as INPUT_<NAME> (hyphens kept). It runs the chosen step as a child process of this same bundle
 * (`node dist/action.cjs --airlock-cli STEP --inputs-from-env`), passing the inputs as one JSON
 * object in AIRLOCK_PARAMS and the credentials only in the child's environment, then turns the
 * step's JSON report into outputs and a job summary.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as core from '@actions/core';
import type { CopyReport } from '@airlock/oci';
import { wrapperInputs, type InputDef, type StepDef, type StepOutputs } from '@airlock/step-kit';
import { copyStep, mirrorStep, reportMergeStep } from '@airlock/copy/inputs';
import { transferOutputValues } from '@airlock/copy';
import { signStep } from '@airlock/sign/inputs';
import { verifyStep } from '@airlock/verify/inputs';
import { verifyOutputValues, type VerifyReport } from '@airlock/verification';

const CLI_FLAG = '--airlock-cli';

interface Wrapped {
  step: StepDef;
  cli: string[];
  /** The input that names the JSON report file. */
  reportInput: string;
}

const STEPS: Record<string, Wrapped> = {
  copy: { step: copyStep, cli: ['copy'], reportInput: 'report' },
  mirror: { step: mirrorStep, cli: ['mirror'], reportInput: 'report' },
  'report-merge': { step: reportMergeStep, cli: ['report', 'merge'], reportInput: 'json-out' },
  sign: { step: signStep, cli: ['sign'], reportInput: 'report' },
  verify: { step: verifyStep, cli: ['verify'], reportInput: 'report' },
};

/** Every input name any step has (action.yml declares their union). */
const ALL_INPUTS = new Set(Object.values(STEPS).flatMap((w) => w.step.inputs.filter((i) => !i.cliOnly).map((i) => i.name)));

class InputError extends Error {}

/** core.getInput reads INPUT_<NAME> (upper-cased, spaces as _, hyphens kept). */
function typed(input: InputDef): unknown {
  const raw = core.getInput(input.name);
  if (raw === '') return undefined;
  switch (input.type) {
    case 'boolean':
      try {
        return core.getBooleanInput(input.name);
      } catch {
        throw new InputError(`input ${input.name} must be true or false (YAML 1.2: true, True, TRUE, false, False, FALSE), got "${raw}"`);
      }
    case 'number': {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new InputError(`input ${input.name} must be a number, got "${raw}"`);
      return n;
    }
    case 'string[]':
      if (raw.trim().startsWith('[')) {
        try {
          const v = JSON.parse(raw) as unknown;
          if (Array.isArray(v)) return v.map(String);
        } catch {
          // not JSON: lines
        }
        throw new InputError(`input ${input.name} must be one value per line or a JSON array of strings`);
      }
      return core.getMultilineInput(input.name);
    default:
      return raw;
  }
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [process.argv[1] ?? '', CLI_FLAG, ...args], { env, stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      process.stderr.write(d);
      stderr = (stderr + d.toString()).slice(-64 * 1024);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), stderr }));
  });
}

/** The one line that says why a step failed: its `error:` line, else its failure summary. */
export function failureLine(stderr: string, code: number, name: string): string {
  const lines = stderr.split('\n').map((l) => l.replace(/^::error::/, '').trimEnd()).filter(Boolean);
  const error = lines.find((l) => l.startsWith('error: '));
  if (error) return error.slice('error: '.length);
  const at = lines.findLastIndex((l) => /^\S.*\bfailed\b/.test(l));
  if (at < 0) return `airlock ${name} failed (exit code ${code})`;
  const first = lines[at + 1]?.trim().replace(/^✘\s*/, '');
  return `airlock ${name}: ${lines[at]!.replace(/:$/, '')}${first ? `: ${first}` : ''}`;
}

function outputsFrom(name: string, file: string): { outputs?: StepOutputs; rows: string[][] } {
  if (!existsSync(file)) return { rows: [] };
  const report = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (name === 'verify') {
    const r = report as unknown as VerifyReport;
    return {
      outputs: verifyOutputValues(r),
      rows: r.images.map((i) => [i.reference, i.ok ? '✅ verified' : '❌ failed', i.digest ?? '', i.ok ? String(i.signatures.filter((s) => s.valid).length) : (i.failures[0] ?? '')]),
    };
  }
  if (name === 'sign') {
    const r = report as { written?: { image: string; digest: string; kind: string; stored: string }[]; failures?: { image: string; error: string }[] };
    return {
      rows: [
        ...(r.written ?? []).map((w) => [w.image, `✅ ${w.kind}`, w.digest, w.stored]),
        ...(r.failures ?? []).map((f) => [f.image, '❌ failed', '', f.error]),
      ],
    };
  }
  const r = report as unknown as CopyReport;
  return {
    outputs: transferOutputValues(r),
    rows: r.images.map((i) => [`${i.source} → ${i.destination}`, i.status === 'failed' ? '❌ failed' : `✅ ${i.status}`, i.destinationDigest ?? i.sourceDigest ?? '', i.status === 'failed' ? (i.error?.message ?? '') : `${i.blobs.copied} blobs copied, ${i.bytes} bytes`]),
  };
}

async function action(): Promise<void> {
  const name = core.getInput('step', { required: true });
  const wrapped = STEPS[name];
  if (!wrapped) throw new InputError(`unknown step "${name}": one of ${Object.keys(STEPS).join(', ')}`);
  const { step } = wrapped;

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('INPUT_') || k.startsWith('AIRLOCK_INPUT_')) delete env[k];
  const params: Record<string, unknown> = {};
  await core.group(`Airlock ${name}: inputs`, async () => {
    for (const input of step.inputs) {
      if (input.cliOnly) continue;
      const value = typed(input);
      if (value === undefined) continue;
      if (input.secret) {
        // Credentials: masked in every later log line, and given to the step only in its environment.
        if (input.name !== 'registry') core.setSecret(String(value));
        env[input.env ?? ''] = String(value);
        core.info(`${input.name}: ${input.name === 'registry' ? String(value) : '***'}`);
        continue;
      }
      params[input.name] = value;
      core.info(`${input.name}: ${JSON.stringify(value)}`);
    }
    // Inputs of other steps are a mistake in the workflow, not something to ignore.
    const own = new Set(step.inputs.map((i) => i.name));
    for (const other of ALL_INPUTS) {
      if (!own.has(other) && core.getInput(other) !== '') throw new InputError(`input ${other} is not an input of the ${name} step (its inputs: ${wrapperInputs(step).map((i) => i.name).join(', ')})`);
    }
  });

  const dir = mkdtempSync(path.join(process.env.RUNNER_TEMP ?? tmpdir(), 'airlock-'));
  const reportFile = String(params[wrapped.reportInput] ?? path.join(dir, 'report.json'));
  params[wrapped.reportInput] = reportFile;
  env.AIRLOCK_PARAMS = JSON.stringify(params);

  const { code, stderr } = await run([...wrapped.cli, '--inputs-from-env'], env);

  const { outputs, rows } = outputsFrom(name, reportFile);
  if (outputs) {
    await core.group(`Airlock ${name}: outputs`, async () => {
      for (const [k, v] of Object.entries(outputs.values)) {
        core.setOutput(k, v);
        core.info(`${k}: ${v}`);
      }
    });
  }
  if (rows.length && process.env.GITHUB_STEP_SUMMARY) {
    await core.summary
      .addHeading(`Airlock ${name}`, 3)
      .addTable([[{ data: 'image', header: true }, { data: 'result', header: true }, { data: 'digest', header: true }, { data: 'detail', header: true }], ...rows.slice(0, 500).map((r) => r.map((c) => c || '—'))])
      .write();
  }
  if (code !== 0) core.setFailed(failureLine(stderr, code, name));
}

if (process.argv[2] === CLI_FLAG) {
  // The step itself: the airlock CLI with this bundle's argv.
  process.argv.splice(2, 1);
  void import('@airlock/cli');
} else {
  action().catch((e: unknown) => core.setFailed(e instanceof Error ? e.message : String(e)));
}
