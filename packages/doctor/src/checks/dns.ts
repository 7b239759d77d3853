import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { type CheckResult, fail, pass } from '../model.js';
import type { ProxyRoute } from './proxy.js';

export interface Resolved {
  name: string;
  addresses?: string[];
  /** The resolver's error code (ENOTFOUND, EAI_AGAIN, TIMEOUT, …). */
  error?: string;
}

const ID = 'dns';
const TITLE = 'DNS';

/** Resolve as connections do (getaddrinfo: /etc/hosts, then DNS). */
export async function resolveName(name: string, timeoutMs: number): Promise<Resolved> {
  if (isIP(name)) return { name, addresses: [name] };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Resolved>((r) => (timer = setTimeout(() => r({ name, error: 'TIMEOUT' }), timeoutMs)));
  try {
    return await Promise.race([
      lookup(name, { all: true }).then((a) => ({ name, addresses: [...new Set(a.map((x) => x.address))] })),
      timeout,
    ]);
  } catch (e) {
    return { name, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** The DNS line: the registry's name (or, through a proxy, the proxy's: the proxy resolves the registry). */
export function dnsCheck(hostname: string, r: Resolved, via?: ProxyRoute): CheckResult {
  const who = via ? `proxy ${r.name} (${via.variable}; the proxy resolves ${hostname} itself)` : r.name;
  if (r.addresses?.length) {
    if (isIP(r.name)) return pass(ID, TITLE, via ? `${who}: an IP address, nothing to resolve` : `${r.name} is an IP address: nothing to resolve`);
    return pass(ID, TITLE, `${who} → ${r.addresses.join(', ')}`);
  }
  const why =
    r.error === 'ENOTFOUND'
      ? 'no such name'
      : r.error === 'EAI_AGAIN' || r.error === 'TIMEOUT'
        ? 'no answer from the DNS server'
        : (r.error ?? 'no addresses');
  const fix = via
    ? `check the proxy's host name in ${via.variable}`
    : `check the spelling; on an air-gapped network the name must be in the internal DNS or /etc/hosts (test: getent hosts ${r.name})`;
  return fail(ID, TITLE, `cannot resolve ${who}: ${why} (${r.error})`, fix);
}
