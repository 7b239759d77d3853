import { header, toAirlockError, type Transport } from '@airlock/oci';
import { type CheckResult, fail, pass, warn } from '../model.js';
import { discard } from '../io.js';

/** The registry's answer to an anonymous `GET /v2/` (the API's "ping"). */
export type ApiObservation =
  | { ok: true; status: number; url: string; apiVersion?: string; wwwAuthenticate?: string; server?: string }
  | { ok: false; message: string; hint?: string };

export async function probeApi(transport: Transport, host: string): Promise<ApiObservation> {
  try {
    const res = await transport.request({ method: 'GET', host, path: '/v2/' });
    await discard(res.body);
    const apiVersion = header(res.headers, 'docker-distribution-api-version');
    const wwwAuthenticate = header(res.headers, 'www-authenticate');
    const server = header(res.headers, 'server');
    return { ok: true, status: res.status, url: res.url, ...(apiVersion ? { apiVersion } : {}), ...(wwwAuthenticate ? { wwwAuthenticate } : {}), ...(server ? { server } : {}) };
  } catch (e) {
    const err = toAirlockError(e);
    return { ok: false, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  }
}

const ID = 'api';
const TITLE = 'Registry API';

export function apiCheck(o: ApiObservation, host: string): CheckResult {
  if (!o.ok) {
    const clientCert = /certificate required|bad certificate|handshake failure/i.test(o.message);
    return fail(ID, TITLE, `GET /v2/ failed: ${o.message}`, clientCert ? `the registry wants a client certificate: put client.cert and client.key in /etc/docker/certs.d/${host}/` : (o.hint ?? 'check that the registry is up'));
  }
  const seen = `${o.url} answered HTTP ${o.status}`;
  if (o.status === 200 || o.status === 401) {
    if (o.apiVersion) return pass(ID, TITLE, `${seen}; Docker-Distribution-API-Version: ${o.apiVersion}`);
    return warn(ID, TITLE, `${seen} without a Docker-Distribution-API-Version header`, 'the API answers; if something in between (proxy, load balancer) strips headers, it may also strip WWW-Authenticate or Docker-Content-Digest');
  }
  if (o.status === 404) {
    return fail(ID, TITLE, `${seen}: no registry API at /v2/${o.server ? ` (Server: ${o.server})` : ''}`, `check host and port: is this the registry, or a web UI or another service? The registry API must sit at the root (/v2/) of ${host}`);
  }
  if (o.status === 403) return fail(ID, TITLE, `${seen}: forbidden before any login`, 'a proxy, firewall or WAF in front of the registry refuses this client: check its rules');
  if (o.status >= 500) return fail(ID, TITLE, `${seen}: the registry is failing`, "look at the registry's logs (storage backend full or unreachable is a common cause)");
  return fail(ID, TITLE, `${seen}: not what a registry answers (200 or 401)`, 'check that this host and port serve the OCI distribution API');
}
