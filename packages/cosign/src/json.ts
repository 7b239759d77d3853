import type { z } from 'zod';
import { AirlockCosignError, type CosignErrorCode } from './errors.js';

/** Zod issues as one line: `path: message; path: message`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}

/**
 * Parse an external JSON document (text, bytes, or an already parsed value) with its zod schema.
 * Failures are one typed error: `notJson` when it does not parse, `invalid: <issues>` otherwise.
 */
export function parseJsonDocument<T>(input: unknown, schema: z.ZodType<T>, err: { code: CosignErrorCode; notJson: string; invalid: string; hint: string }): T {
  let json = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      json = JSON.parse(Buffer.from(input).toString('utf8'));
    } catch (e) {
      throw new AirlockCosignError(err.code, err.notJson, err.hint, { cause: e });
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AirlockCosignError(err.code, `${err.invalid}: ${describeIssues(parsed.error)}`, err.hint);
  return parsed.data;
}
