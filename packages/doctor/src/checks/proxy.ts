import { isLoopback } from '@airlock/oci';
import { type CheckResult, fail, pass, warn } from '../model.js';

/** The proxy a request to a host goes through, decided as undici's EnvHttpProxyAgent (the transport's) does. */
export interface ProxyRoute {
  /** The variable it came from, e.g. HTTPS_PROXY. */
  variable: string;
  url: URL;
}

const ID = 'proxy';
const TITLE = 'Proxy';

/** `http://user:pass@proxy:3128` → `http://***@proxy:3128/`: proxy URLs may carry credentials. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (!u.username && !u.password) return raw;
    u.username = '';
    u.password = '';
    return u.toString().replace('://', '://***@');
  } catch {
    return raw.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** Passwords and user names inside proxy URLs: never printed. */
export function proxySecrets(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const k of ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY']) {
    try {
      const u = new URL(env[k] ?? '');
      for (const s of [u.password, u.username]) if (s) out.push(s, decodeURIComponent(s));
    } catch {
      /* not a URL: nothing to hide beyond the redaction of the value itself */
    }
  }
  return out;
}

function pick(env: NodeJS.ProcessEnv, lower: string, upper: string): { variable: string; value: string } | undefined {
  if (env[lower] !== undefined) return env[lower] ? { variable: lower, value: env[lower]! } : undefined;
  return env[upper] ? { variable: upper, value: env[upper]! } : undefined;
}

/** The proxy variable in effect for a scheme: https falls back to the http proxy, as in undici. */
function proxyVariable(env: NodeJS.ProcessEnv, scheme: 'https' | 'http') {
  return (scheme === 'https' ? pick(env, 'https_proxy', 'HTTPS_PROXY') : undefined) ?? pick(env, 'http_proxy', 'HTTP_PROXY');
}

/** The NO_PROXY entry that makes `host` (HOST[:PORT], brackets kept) bypass the proxy, as undici matches. */
export function noProxyMatch(env: NodeJS.ProcessEnv, host: string, port: number): string | undefined {
  const value = env.no_proxy ?? env.NO_PROXY ?? '';
  if (value === '*') return '*';
  const hostname = host.replace(/:\d*$/, '').toLowerCase();
  for (const entry of value.split(/[,\s]/)) {
    if (!entry) continue;
    const m = /^(.+):(\d+)$/.exec(entry);
    const name = (m ? m[1]! : entry).replace(/^\*?\./, '').toLowerCase();
    if (m && Number(m[2]) !== port) continue;
    if (hostname === name || hostname.endsWith(`.${name}`)) return entry;
  }
  return undefined;
}

/** Where a request to `host` goes: through which proxy, or direct (undefined). Throws on an unusable proxy URL. */
export function proxyRoute(env: NodeJS.ProcessEnv, host: string, port: number, scheme: 'https' | 'http' = 'https'): ProxyRoute | undefined {
  const v = proxyVariable(env, scheme);
  if (!v || noProxyMatch(env, host, port)) return undefined;
  return { variable: v.variable, url: new URL(v.value) };
}

/** The proxy line: what is set, whether this host bypasses it, and the usual mistakes. */
export function proxyCheck(env: NodeJS.ProcessEnv, host: string, port: number): CheckResult {
  const v = proxyVariable(env, 'https');
  const noProxy = env.no_proxy ?? env.NO_PROXY;
  const notes: string[] = [];
  for (const [lower, upper] of [['https_proxy', 'HTTPS_PROXY'], ['http_proxy', 'HTTP_PROXY'], ['no_proxy', 'NO_PROXY']] as const) {
    if (env[lower] !== undefined && env[upper] !== undefined && env[lower] !== env[upper]) notes.push(`${lower} and ${upper} differ: ${lower} is used`);
  }
  if (!v) return pass(ID, TITLE, `no HTTPS_PROXY/HTTP_PROXY set: direct connection to ${host}`);
  const shown = `${v.variable}=${redactUrl(v.value)}`;
  let url: URL;
  try {
    url = new URL(v.value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    return fail(ID, TITLE, `${shown} is not an http:// or https:// URL`, `set ${v.variable} to a URL such as http://proxy.example:3128, or unset it`);
  }
  const bypass = noProxyMatch(env, host, port);
  if (bypass) return pass(ID, TITLE, `${shown} is set; ${host} bypasses it (NO_PROXY entry "${bypass}")${notes.length ? `; ${notes.join('; ')}` : ''}`);
  const hostname = host.replace(/:\d*$/, '');
  const cidrs = (noProxy ?? '').split(/[,\s]/).filter((e) => /\/\d+$/.test(e));
  const detail = `${host} is reached through ${shown}${noProxy ? ` (NO_PROXY=${noProxy} does not match it)` : ' (NO_PROXY is not set)'}`;
  if (isLoopback(host)) {
    return warn(ID, TITLE, `${detail}: loopback traffic goes to the proxy`, `add it to NO_PROXY, e.g. NO_PROXY=localhost,127.0.0.1${noProxy ? `,${noProxy}` : ''}`);
  }
  if (cidrs.length && /^[\d.]+$|^\[/.test(hostname)) {
    return warn(ID, TITLE, `${detail}; NO_PROXY entry ${cidrs.join(', ')} is a CIDR range, which Airlock (undici) does not match, unlike Go tools such as docker and skopeo`, `list the address itself: NO_PROXY=${noProxy},${hostname}`);
  }
  if (notes.length) return warn(ID, TITLE, `${detail}; ${notes.join('; ')}`, 'set only one spelling of each proxy variable');
  return pass(ID, TITLE, detail);
}
