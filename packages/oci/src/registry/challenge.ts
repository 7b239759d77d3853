/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: 'bearer' | 'basic' | string;
  params: Record<string, string>;
}

/**
 * Parse `WWW-Authenticate: Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"`.
 * Handles quoted strings with escapes and several challenges in one header.
 */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  let current: Challenge | undefined;
  while (i < s.length) {
    while (i < s.length && (s[i] === ' ' || s[i] === ',')) i++;
    const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)/.exec(s.slice(i));
    if (!m) break;
    const token = m[1]!;
    i += token.length;
    while (s[i] === ' ') i++;
    if (s[i] === '=') {
      i++;
      while (s[i] === ' ') i++;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        const v = /^[^,\s]*/.exec(s.slice(i))![0];
        value = v;
        i += v.length;
      }
      if (current) current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}
