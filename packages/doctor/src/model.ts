/**
 * One line of the doctor's report. `ok` is true (✅), false (❌: something needed is broken),
 * 'warn' (⚠️: works, but worth fixing) or 'skip' (not run: a check it depends on failed).
 */
export type CheckStatus = true | false | 'warn' | 'skip';

export interface CheckResult {
  /** Stable identifier, e.g. `tls.chain`, `auth.push`. */
  id: string;
  ok: CheckStatus;
  /** Short label, e.g. "TLS chain". */
  title: string;
  /** What was seen, in one line. */
  detail: string;
  /** What to try, when ok is not true. */
  fix?: string;
}

export const pass = (id: string, title: string, detail: string): CheckResult => ({ id, ok: true, title, detail });
export const fail = (id: string, title: string, detail: string, fix: string): CheckResult => ({ id, ok: false, title, detail, fix });
export const warn = (id: string, title: string, detail: string, fix?: string): CheckResult => ({ id, ok: 'warn', title, detail, ...(fix ? { fix } : {}) });
export const skip = (id: string, title: string, because: string): CheckResult => ({ id, ok: 'skip', title, detail: `skipped: ${because}` });

/** A failure, or a warning when the caller does not need this to work. */
export const failOrWarn = (needed: boolean, id: string, title: string, detail: string, fix: string): CheckResult =>
  needed ? fail(id, title, detail, fix) : warn(id, title, detail, fix);

/** The first failed check among these, if any. */
export function firstFailure(results: readonly CheckResult[]): CheckResult | undefined {
  return results.find((r) => r.ok === false);
}

/** The titles this stage would have printed, skipped because `failed` failed. */
export function skipAll(lines: ReadonlyArray<readonly [id: string, title: string]>, failed: CheckResult): CheckResult[] {
  return lines.map(([id, title]) => skip(id, title, `${failed.title} failed`));
}
