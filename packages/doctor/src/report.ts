import type { CheckResult, CheckStatus } from './model.js';
import { imageName, type Target } from './target.js';

/** The JSON document (--json): stable ids, one entry per line of the text report. */
export interface DoctorReport {
  tool: 'airlock';
  command: 'doctor';
  /** False when any check failed (exit 1). */
  ok: boolean;
  target: { input: string; registry: string; host: string; image?: string };
  checks: CheckResult[];
  summary: { passed: number; warnings: number; failed: number; skipped: number };
}

export function buildReport(target: Target, checks: CheckResult[]): DoctorReport {
  const count = (s: CheckStatus) => checks.filter((c) => c.ok === s).length;
  const summary = { passed: count(true), warnings: count('warn'), failed: count(false), skipped: count('skip') };
  return {
    tool: 'airlock',
    command: 'doctor',
    ok: summary.failed === 0,
    target: { input: target.input, registry: target.registry, host: target.host, ...(target.image ? { image: imageName(target) } : {}) },
    checks,
    summary,
  };
}

const MARK: Record<string, string> = { true: '✅', false: '❌', warn: '⚠️', skip: '➖' };

/** The text report: one line per check, the fix under each line that needs one, then the verdict. */
export function renderText(r: DoctorReport): string {
  const width = Math.max(...r.checks.map((c) => c.title.length));
  const lines = [`airlock doctor: ${r.target.image ?? r.target.registry}`, ''];
  for (const c of r.checks) {
    lines.push(`${MARK[String(c.ok)]} ${c.title.padEnd(width)}  ${c.detail}`);
    if (c.fix && c.ok !== true && c.ok !== 'skip') lines.push(`   ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  const { passed, warnings, failed, skipped } = r.summary;
  const counts = [`${failed} failed`, `${warnings} warning${warnings === 1 ? '' : 's'}`, `${passed} passed`, ...(skipped ? [`${skipped} skipped`] : [])].join(', ');
  lines.push('', failed ? `Result: ${counts}: fix the ❌ lines first, from the top.` : warnings ? `Result: ${counts}: works; the ⚠️ lines are worth fixing.` : `Result: ${counts}: all good.`);
  return `${lines.join('\n')}\n`;
}

/**
 * Replace every secret (and its base64 forms) in every string of `value`. The checks never put a
 * secret in a line; this is the guarantee that a registry or helper echoing one cannot leak it.
 */
export function redact<T>(value: T, secrets: readonly string[]): T {
  const needles = [...new Set(secrets.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  if (!needles.length) return value;
  const scrub = (s: string) => needles.reduce((acc, n) => acc.split(n).join('***'), s);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return scrub(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
