import { AirlockError, type CredentialProvider, DefaultCredentials, type Registries, readLimited } from '@airlock/oci';

/**
 * HTTP for chart repositories and ChartMuseum, over the registries' transport (the same TLS
 * settings — certs.d, --ca-file, --insecure-registry — proxies and retries). Basic auth comes from
 * the usual credential sources, looked up by the repository's host, and is sent to that host only.
 */
export interface ChartHttp {
  registries: Registries;
  credentials: CredentialProvider;
}

export interface HttpResult {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

async function authHeader(http: ChartHttp, url: URL): Promise<Record<string, string>> {
  const c = await http.credentials.get(url.host);
  if (!c) return {};
  const secret = c.kind === 'basic' ? c.password : c.token;
  return { authorization: `Basic ${Buffer.from(`${c.username}:${secret}`).toString('base64')}` };
}

export async function httpRequest(
  http: ChartHttp,
  method: 'GET' | 'POST',
  url: string,
  opts: { limit: number; what: string; body?: Buffer; headers?: Record<string, string>; authFor?: string },
): Promise<HttpResult> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new AirlockError('BAD_REFERENCE', `${opts.what}: ${url} is not an http(s) URL`);
  }
  // Credentials go only to the host they are for (a chart URL on another host gets none).
  const auth = !opts.authFor || new URL(opts.authFor).host === u.host ? await authHeader(http, u) : {};
  const res = await http.registries.transport.request({
    method,
    host: u.host,
    path: u.toString(),
    headers: { ...auth, ...opts.headers },
    ...(opts.body ? { body: () => opts.body! } : {}),
    followRedirects: true,
  });
  const body = await readLimited(res.body, opts.limit, opts.what).catch((e: unknown) => {
    if (e instanceof AirlockError && e.code === 'MANIFEST_TOO_LARGE') {
      throw new AirlockError('BAD_INPUT', `${opts.what}: larger than ${opts.limit} bytes`, { hint: 'this is not a chart repository file Airlock can read' });
    }
    throw e;
  });
  return { status: res.status, body, headers: res.headers };
}

/** A non-2xx answer as a typed error naming the URL. */
export function httpError(what: string, url: string, status: number, body: Buffer): AirlockError {
  const text = body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
  if (status === 401 || status === 403) {
    return new AirlockError(status === 401 ? 'UNAUTHORIZED' : 'DENIED', `${what}: ${url} answered ${status}${text ? ` (${text})` : ''}`, {
      hint: `set credentials for ${new URL(url).host} (AIRLOCK_REGISTRY/AIRLOCK_REGISTRY_USER/AIRLOCK_REGISTRY_PASSWORD, or a docker config entry)`,
    });
  }
  if (status === 404) return new AirlockError('NOT_FOUND', `${what}: ${url} not found (404)`, { hint: 'check the repository URL, chart name and version' });
  return new AirlockError('REGISTRY', `${what}: ${url} answered ${status}${text ? ` (${text})` : ''}`, { hint: 'the server refused the request' });
}

/** HTTP for charts over these registries' transport, with the standard credential chain. */
export function chartHttpFor(registries: Registries, credentials?: CredentialProvider): ChartHttp {
  return { registries, credentials: credentials ?? new DefaultCredentials() };
}
