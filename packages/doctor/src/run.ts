import { isLoopback, type Registries } from '@airlock/oci';
import { type ConnectionFlags, registriesFrom } from '@airlock/step-kit';
import { apiCheck, probeApi } from './checks/api.js';
import { attestationsCheck, probeAttachments, referrersCheck, signaturesCheck } from './checks/attachments.js';
import { challengeCheck, credentialsCheck, loginCheck, lookupCredentials, pickChallenge, pullCheck, pushCheck } from './checks/auth.js';
import { caSourcesFor } from './checks/ca-sources.js';
import { dnsCheck, resolveName } from './checks/dns.js';
import { imageCheck, probeImage } from './checks/image.js';
import { proxyCheck, proxyRoute, proxySecrets } from './checks/proxy.js';
import { probeTcp, tcpCheck } from './checks/tcp.js';
import { probeTls, tlsChecks } from './checks/tls.js';
import { type CheckResult, firstFailure, skipAll } from './model.js';
import { imageName, type Target } from './target.js';

export interface DoctorOptions {
  flags: ConnectionFlags;
  requirePush: boolean;
  requireSignature: boolean;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  now: Date;
}

/** The report's lines in order, each stage's id and title: what is shown as skipped after a failure. */
function stages(t: Target): Array<[string, string]> {
  return [
    ['dns', 'DNS'],
    ['tcp', 'TCP'],
    ['tls', 'TLS'],
    ['api', 'Registry API'],
    ['auth.challenge', 'Auth challenge'],
    ['auth.credentials', 'Credentials'],
    ['auth.login', 'Login'],
    ...(t.image
      ? ([
          ['auth.pull', 'Pull scope'],
          ['auth.push', 'Push scope'],
          ['image', 'Image'],
          ['signatures', 'Signatures'],
          ['attestations', 'Attestations'],
          ['referrers', 'Referrers API'],
        ] as Array<[string, string]>)
      : []),
  ];
}

/** Collects lines; after a failure, the stages not yet run become skipped lines naming it. */
class Lines {
  readonly out: CheckResult[] = [];
  #pending: Array<[string, string]>;
  constructor(pending: Array<[string, string]>) {
    this.#pending = pending;
  }
  /** Add results; true when none failed (the next stage may run). */
  add(...results: CheckResult[]): boolean {
    results.forEach((r) => this.note(r));
    const failed = firstFailure(results);
    if (failed) {
      this.out.push(...skipAll(this.#pending, failed));
      this.#pending = [];
    }
    return !failed;
  }
  /** Add a result that no later stage depends on. */
  note(r: CheckResult): void {
    this.out.push(r);
    this.drop(r.id.startsWith('tls.') ? 'tls' : r.id);
  }
  drop(id: string): void {
    this.#pending = this.#pending.filter(([p]) => p !== id);
  }
}

/** Run every check that applies to the target, in order, stopping at the first broken layer. */
export async function runDoctor(t: Target, o: DoctorOptions): Promise<{ checks: CheckResult[]; secrets: string[] }> {
  const lines = new Lines(stages(t));
  const secrets = [...proxySecrets(o.env), ...['AIRLOCK_REGISTRY_PASSWORD', 'CI_REGISTRY_PASSWORD'].map((k) => o.env[k] ?? '')];
  const registries = registriesFrom(o.flags);
  try {
    await checks(t, o, lines, registries, secrets);
  } finally {
    await registries.close();
  }
  return { checks: lines.out, secrets };
}

async function checks(t: Target, o: DoctorOptions, lines: Lines, registries: Registries, secrets: string[]): Promise<void> {
  if (!lines.add(proxyCheck(o.env, t.host, t.port))) return;
  const via = proxyRoute(o.env, t.host, t.port);
  const resolved = await resolveName(via ? via.url.hostname.replace(/^\[|\]$/g, '') : t.hostname, o.timeoutMs);
  if (!lines.add(dnsCheck(t.hostname, resolved, via))) return;
  if (!lines.add(tcpCheck(t.hostname, t.port, await probeTcp(t.hostname, t.port, o.timeoutMs, via), via))) return;

  const material = caSourcesFor(t.host, o.flags, o.env);
  const tls = await probeTls(t, material, { certsDirs: o.flags.certsDirs, caFiles: o.flags.caFiles, timeoutMs: o.timeoutMs, ...(via ? { via } : {}) });
  const tlsContext = { host: t.host, hostname: t.hostname, insecure: registries.transport.isInsecure(t.host), loopback: isLoopback(t.host), material, certsDirs: o.flags.certsDirs, now: o.now };
  if (!lines.add(...tlsChecks(tls, tlsContext))) return;

  const api = await probeApi(registries.transport, t.host);
  if (!lines.add(apiCheck(api, t.host)) || !api.ok) return;
  const challenge = pickChallenge(api.status, api.wwwAuthenticate);
  if (!lines.add(challengeCheck(challenge, t.host))) return;

  const found = await lookupCredentials(registries, t.registry);
  const credential = found.ok ? found.credential : undefined;
  if (credential) {
    secrets.push(credential.kind === 'basic' ? credential.password : credential.token);
    secrets.push(Buffer.from(`${credential.username}:${credential.kind === 'basic' ? credential.password : credential.token}`).toString('base64'));
  }
  if (!lines.add(credentialsCheck(found, challenge, t.registry, o.env))) return;
  if (challenge && credential) {
    if (!lines.add(await loginCheck(registries, t.host, t.registry, api.wwwAuthenticate, credential, challenge, o.env))) return;
  } else lines.drop('auth.login');

  if (!t.image) return;
  const who = challenge && credential ? `user ${credential.username}` : 'anonymous';
  if (!lines.add(await pullCheck(registries, t.registry, t.image.repository, who))) return;
  // Image and signatures need pull only: a refused push is reported without skipping them.
  lines.note(await pushCheck(registries, t.registry, t.image.repository, who, o.requirePush, api.url));
  const image = await probeImage(registries, t.image);
  if (!lines.add(imageCheck(image, t.image)) || !image.ok) return;
  const attached = await probeAttachments(registries, t.registry, t.image.repository, image.manifest.digest);
  lines.add(signaturesCheck(attached, imageName(t), o.requireSignature), attestationsCheck(attached), referrersCheck(attached, t.image.repository));
}
