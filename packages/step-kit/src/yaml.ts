import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';

/**
 * Parse a YAML input file (a mirror list, a policy) and validate it with `schema`. Either problem
 * becomes one line through `fail`: "not valid YAML: …" or "invalid WHAT at a.b: …" (the first issue).
 */
export function parseYamlDocument<T>(text: string, schema: z.ZodType<T>, what: string, fail: (message: string) => Error): T {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw fail(`not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = schema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0];
    throw fail(`invalid ${what}${i?.path.length ? ` at ${i.path.map(String).join('.')}` : ''}: ${i?.message ?? 'invalid'}`);
  }
  return r.data;
}
