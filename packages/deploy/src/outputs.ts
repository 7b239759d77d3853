/**
 * What deploy-image hands to later CI jobs: a dotenv file following GitLab's rules
 * (artifacts:reports:dotenv: `KEY=value` lines, keys `[A-Za-z0-9_]`, no quotes, no blank lines,
 * at most 5 KB), and durations parsed as kubectl parses --timeout.
 */
import { AirlockError } from '@airlock/oci';

export const DOTENV_MAX_BYTES = 5 * 1024;

/**
 * The dotenv text. Values must be one line without quotes; a value that breaks the rules is an
 * error (a bug or a hostile input), and what does not fit in 5 KB is left out and named.
 */
export function dotenvText(vars: Array<[string, string]>): { text: string; omitted: string[] } {
  const lines: string[] = [];
  const omitted: string[] = [];
  let size = 0;
  for (const [k, v] of vars) {
    if (!/^[A-Za-z0-9_]+$/.test(k)) throw new AirlockError('BAD_INPUT', `dotenv key "${k}" is not [A-Za-z0-9_]`);
    if (/[\r\n"'`]/.test(v) || v !== v.trim()) throw new AirlockError('BAD_INPUT', `dotenv value of ${k} has a newline, quote or edge space`);
    const line = `${k}=${v}\n`;
    if (size + Buffer.byteLength(line) > DOTENV_MAX_BYTES) {
      omitted.push(k);
      continue;
    }
    size += Buffer.byteLength(line);
    lines.push(line);
  }
  return { text: lines.join(''), omitted };
}

/** `90s`, `5m`, `1h30m`, `500ms`, `2.5s`, a bare number of seconds; `0` means no limit. */
export function parseDuration(s: string, flag: string): number {
  const t = s.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    if (m.index !== consumed) break;
    consumed += m[0].length;
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  }
  if (!t || consumed !== t.length) throw new AirlockError('USAGE', `--${flag} "${s}" is not a duration`, { hint: 'write e.g. 90s, 5m, 1h30m (a bare number is seconds)' });
  return total;
}
