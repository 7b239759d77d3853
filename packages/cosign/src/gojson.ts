/**
 * JSON bytes exactly as Go's encoding/json Marshal writes them, for the payloads cosign signs:
 * no whitespace, map keys sorted bytewise, `<` `>` `&` U+2028 U+2029 escaped as \uXXXX, control
 * characters escaped (\b \f \n \r \t short forms, as Go >= 1.22 writes them).
 */
import { AirlockCosignError } from './errors.js';

const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

export function goString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    const c = s.charCodeAt(i);
    const short = SHORT[ch];
    if (short !== undefined) {
      out += short;
    } else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += ch + (s[i + 1] as string);
        i++;
      } else {
        out += '\\ufffd'; // Go replaces invalid UTF-8 (a lone surrogate) with U+FFFD
      }
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      out += '\\ufffd';
    } else {
      out += ch;
    }
  }
  return `${out}"`;
}

function goNumber(n: number): string {
  if (!Number.isFinite(n)) {
    throw new AirlockCosignError('INVALID_INPUT', `cannot encode ${n} as JSON`, 'annotations must hold finite numbers, strings, booleans, arrays or objects');
  }
  // Go's float64 encoding and JavaScript's Number#toString agree on every finite value except the
  // exponent's sign digits, which both write the same way ("1e+21", "1e-7").
  return Object.is(n, -0) ? '-0' : String(n);
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Marshal a JSON value the way Go marshals map[string]interface{} / []interface{} trees. */
export function goMarshal(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return goString(value);
    case 'number':
      return goNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => goMarshal(v)).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => compareUtf8(a, b));
      return `{${entries.map(([k, v]) => `${goString(k)}:${goMarshal(v)}`).join(',')}}`;
    }
    default:
      throw new AirlockCosignError('INVALID_INPUT', `cannot encode a ${typeof value} as JSON`, 'pass plain JSON values');
  }
}
