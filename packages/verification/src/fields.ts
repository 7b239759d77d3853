/**
 * Statement field checks: the dotted paths of an attestation requirement's `fields` and whether an
 * in-toto statement holds the expected values.
 */

const STATEMENT_KEYS = new Set(['_type', 'subject', 'predicateType', 'predicate']);

/** `buildType` → `predicate.buildType`; paths naming a statement field are kept. */
export function normaliseFieldPath(path: string): string {
  const first = path.split('.')[0] ?? '';
  return STATEMENT_KEYS.has(first) ? path : `predicate.${path}`;
}

/** The value at a dotted path (numeric parts index arrays); undefined when absent. */
export function valueAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(part)) return undefined;
      cur = cur[Number(part)];
    } else {
      if (!Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
      cur = (cur as Record<string, unknown>)[part];
    }
  }
  return cur;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => deepEqual(x, (b as unknown[])[i]));
  const ka = Object.keys(a as object).sort();
  const kb = Object.keys(b as object).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Every field that does not hold its expected value, as `path is X, not Y`. */
export function fieldMismatches(statement: unknown, fields: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [path, want] of Object.entries(fields)) {
    const got = valueAt(statement, path);
    if (!deepEqual(got, want)) out.push(`${path} is ${got === undefined ? 'missing' : JSON.stringify(got)}, not ${JSON.stringify(want)}`);
  }
  return out;
}
