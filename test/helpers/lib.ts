import { Registries, StaticCredentials, Transport, type Credential, type TransportOptions } from '@airlock/oci';
import type { TestRegistry } from './registry.js';

/** A Registries instance that knows the credentials and CAs of the given test registries. */
export function registriesFor(regs: TestRegistry[], opts: TransportOptions = {}): Registries {
  const creds: Record<string, Credential> = {};
  const caFiles: string[] = [];
  for (const r of regs) {
    if (r.username && r.password) creds[r.host] = { kind: 'basic', username: r.username, password: r.password };
    if (r.caFile) caFiles.push(r.caFile);
  }
  return new Registries(new Transport({ caFiles, retry: { retries: 2, minDelayMs: 10, maxDelayMs: 100 }, ...opts }), new StaticCredentials(creds));
}
