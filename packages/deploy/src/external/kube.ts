/**
 * The Kubernetes API, wire only: the few calls deploy-image makes (get a workload, patch it, list
 * pods and events), typed, over undici, with the TLS and credentials a kubeconfig names. Failures
 * are KubeErrors carrying the API's `Status` (reason, message); the step turns them into
 * AirlockErrors. Secrets (tokens, keys, exec output) are never put into a message.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { backoffMs, retryAfterMs, TLS_ERROR_CODES } from '@airlock/oci';
import type { Agent as AgentType, Dispatcher, EnvHttpProxyAgent as EnvHttpProxyAgentType, ProxyAgent as ProxyAgentType } from 'undici';
import AgentImpl from 'undici/lib/dispatcher/agent.js';
import EnvHttpProxyAgentImpl from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import ProxyAgentImpl from 'undici/lib/dispatcher/proxy-agent.js';
import requestImpl from 'undici/lib/api/api-request.js';
import api from 'undici/lib/api/index.js';
import DispatcherImpl from 'undici/lib/dispatcher/dispatcher.js';
import { z } from 'zod';
import { KubeError, type KubeErrorCode } from './errors.js';
import type { ExecConfig, KubeTarget } from './kubeconfig.js';

// As @airlock/oci's undici-lite: undici's parts without its index (fetch, WebSocket, caches).
Object.assign((DispatcherImpl as { prototype: object }).prototype, api as object);
const Agent = AgentImpl as unknown as typeof AgentType;
const EnvHttpProxyAgent = EnvHttpProxyAgentImpl as unknown as typeof EnvHttpProxyAgentType;
const ProxyAgent = ProxyAgentImpl as unknown as typeof ProxyAgentType;

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob';

export const RESOURCES: Record<WorkloadKind, { group: string; version: string; plural: string }> = {
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments' },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets' },
  DaemonSet: { group: 'apps', version: 'v1', plural: 'daemonsets' },
  CronJob: { group: 'batch', version: 'v1', plural: 'cronjobs' },
};

export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
  namespace: string;
}

export type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

/** What deploy-image needs from a cluster. */
export interface KubeApi {
  /** Where, for messages: the server URL and the kubeconfig/context or service account. */
  readonly server: string;
  readonly source: string;
  getWorkload(ref: WorkloadRef): Promise<KubeObject>;
  /** A strategic merge patch (application/strategic-merge-patch+json). */
  patchWorkload(ref: WorkloadRef, patch: unknown): Promise<KubeObject>;
  listPods(namespace: string, labelSelector: string): Promise<KubeObject[]>;
  /** Events about one pod. */
  listEvents(namespace: string, podName: string): Promise<KubeObject[]>;
  close(): Promise<void>;
}

export const FIELD_MANAGER = 'airlock-deploy-image';

const statusSchema = z.object({
  kind: z.literal('Status'),
  message: z.string().optional(),
  reason: z.string().optional(),
  code: z.number().optional(),
  details: z.object({ causes: z.array(z.object({ field: z.string().optional(), message: z.string().optional() })).optional() }).passthrough().optional(),
});

const execCredentialSchema = z.object({
  apiVersion: z.string(),
  kind: z.literal('ExecCredential'),
  status: z.object({
    token: z.string().optional(),
    clientCertificateData: z.string().optional(),
    clientKeyData: z.string().optional(),
    expirationTimestamp: z.string().optional(),
  }),
});

const listSchema = z.object({ items: z.array(z.record(z.string(), z.unknown())).nullish() });

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
/** A certificate problem, or a plain-HTTP answer to TLS: both are the kubeconfig's TLS settings to fix. */
const TLS_CODES = new Set([...TLS_ERROR_CODES, 'ERR_SSL_WRONG_VERSION_NUMBER']);

function errCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string' && c !== 'UND_ERR') return c;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface KubeClientOptions {
  retries?: number;
  userAgent?: string;
  /** Injected dispatcher for tests. */
  dispatcher?: Dispatcher;
}

interface ExecResult {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  expires?: number;
}

/** The Kubernetes API over HTTPS, authenticated as the kubeconfig says. */
export class KubeClient implements KubeApi {
  readonly server: string;
  readonly source: string;
  readonly #t: KubeTarget;
  readonly #retries: number;
  readonly #ua: string;
  #dispatcher?: Dispatcher;
  readonly #injected?: Dispatcher;
  #exec?: ExecResult;

  constructor(target: KubeTarget, opts: KubeClientOptions = {}) {
    this.#t = target;
    this.server = target.server;
    this.source = target.source;
    this.#retries = opts.retries ?? 3;
    this.#ua = opts.userAgent ?? 'airlock-deploy-image/0.1';
    if (opts.dispatcher) this.#injected = opts.dispatcher;
  }

  async #credentials(refresh = false): Promise<{ headers: Record<string, string>; cert?: Buffer; key?: Buffer }> {
    const a = this.#t.auth;
    const headers: Record<string, string> = {};
    let cert = a.clientCert;
    let key = a.clientKey;
    if (a.exec) {
      if (refresh || !this.#exec || (this.#exec.expires !== undefined && this.#exec.expires - 10_000 < Date.now())) {
        this.#exec = await runExecPlugin(a.exec, this.#t);
        // New client certificates need a new connection.
        if (this.#exec.cert) await this.#resetDispatcher();
      }
      if (this.#exec.token) headers.authorization = `Bearer ${this.#exec.token}`;
      if (this.#exec.cert && this.#exec.key) {
        cert = this.#exec.cert;
        key = this.#exec.key;
      }
    }
    if (!headers.authorization) {
      if (a.token) headers.authorization = `Bearer ${a.token}`;
      else if (a.tokenFile) {
        let token: string;
        try {
          token = readFileSync(a.tokenFile, 'utf8').trim();
        } catch (e) {
          throw new KubeError('KUBE_CONFIG', `cannot read the token file ${a.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'check tokenFile in the kubeconfig (or the service account mount)' });
        }
        headers.authorization = `Bearer ${token}`;
      } else if (a.basic) headers.authorization = `Basic ${Buffer.from(`${a.basic.username}:${a.basic.password}`).toString('base64')}`;
    }
    return { headers, ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  }

  async #resetDispatcher(): Promise<void> {
    const d = this.#dispatcher;
    this.#dispatcher = undefined;
    await d?.close().catch(() => {});
  }

  #getDispatcher(cert?: Buffer, key?: Buffer): Dispatcher {
    if (this.#injected) return this.#injected;
    if (this.#dispatcher) return this.#dispatcher;
    const t = this.#t;
    const tls = {
      ...(t.ca ? { ca: t.ca } : {}),
      ...(cert && key ? { cert, key } : {}),
      rejectUnauthorized: !t.insecureSkipTlsVerify,
      ...(t.tlsServerName ? { servername: t.tlsServerName } : {}),
    };
    if (t.proxyUrl) {
      const scheme = new URL(t.proxyUrl).protocol;
      if (scheme !== 'http:' && scheme !== 'https:') {
        throw new KubeError('KUBE_CONFIG', `proxy-url ${t.proxyUrl}: only http:// and https:// proxies are supported`, { hint: 'use an HTTP CONNECT proxy, or run where the API server is reachable' });
      }
      this.#dispatcher = new ProxyAgent({ uri: t.proxyUrl, requestTls: tls });
    } else if (['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => process.env[k])) {
      this.#dispatcher = new EnvHttpProxyAgent({ connect: tls, requestTls: tls });
    } else {
      this.#dispatcher = new Agent({ connect: tls, keepAliveTimeout: 30_000 });
    }
    return this.#dispatcher;
  }

  async #request(method: 'GET' | 'PATCH', path: string, opts: { body?: string; contentType?: string; what: string } ): Promise<unknown> {
    const url = new URL(`${this.server}${path}`);
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const cred = await this.#credentials(false);
      const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.#ua, ...cred.headers, ...(opts.contentType ? { 'content-type': opts.contentType } : {}) };
      let status: number;
      let text: string;
      let retryAfter: string | undefined;
      try {
        const res = await (requestImpl as (this: Dispatcher, o: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>).call(this.#getDispatcher(cred.cert, cred.key), {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method,
          headers,
          ...(opts.body !== undefined ? { body: opts.body } : {}),
          headersTimeout: 60_000,
          bodyTimeout: 60_000,
        });
        status = res.statusCode;
        const ra = res.headers['retry-after'];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
        text = await res.body.text();
      } catch (e) {
        if (e instanceof KubeError) throw e;
        const code = errCode(e);
        if (code && TLS_CODES.has(code)) {
          throw new KubeError('KUBE_TLS', `${opts.what}: TLS to ${this.server} failed: ${code}`, {
            hint: code === 'ERR_SSL_WRONG_VERSION_NUMBER' ? 'the server does not speak TLS here: check the server URL' : `the server certificate does not verify with the CA of ${this.source} (certificate-authority[-data]); never turn verification off in production`,
            cause: e,
          });
        }
        if (attempt < this.#retries) {
          await sleep(backoffMs(attempt, { retries: this.#retries, minDelayMs: 200, maxDelayMs: 5000 }));
          continue;
        }
        throw new KubeError('KUBE_NETWORK', `${opts.what}: cannot reach ${this.server}: ${code ?? (e as Error).message}`, { hint: `check that the API server of ${this.source} is reachable from here (proxy-url, HTTPS_PROXY/NO_PROXY)`, cause: e });
      }
      if (status >= 200 && status < 300) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new KubeError('KUBE_PROTOCOL', `${opts.what}: ${this.server} answered HTTP ${status} with something that is not JSON`, { hint: 'check that the server URL is the Kubernetes API server (not a proxy or a dashboard)' });
        }
      }
      if (status === 401 && this.#t.auth.exec && !refreshed) {
        refreshed = true;
        await this.#credentials(true);
        continue;
      }
      if ((RETRY_STATUS.has(status) || (status === 409 && method === 'PATCH')) && attempt < this.#retries) {
        await sleep(retryAfterMs(retryAfter) ?? backoffMs(attempt, { retries: this.#retries, minDelayMs: 200, maxDelayMs: 5000 }));
        continue;
      }
      throw this.#statusError(status, text, opts.what);
    }
  }

  #statusError(status: number, text: string, what: string): KubeError {
    let st: z.infer<typeof statusSchema> | undefined;
    try {
      const r = statusSchema.safeParse(JSON.parse(text));
      if (r.success) st = r.data;
    } catch {
      // not JSON
    }
    const message = st?.message ?? `HTTP ${status}`;
    const reason = st?.reason;
    const base = { status, ...(reason ? { reason } : {}) };
    const code: KubeErrorCode =
      status === 401 ? 'KUBE_UNAUTHORIZED' : status === 403 ? 'KUBE_FORBIDDEN' : status === 404 ? 'KUBE_NOT_FOUND' : status === 409 ? 'KUBE_CONFLICT' : status === 422 ? 'KUBE_INVALID' : status >= 500 ? 'KUBE_SERVER' : 'KUBE_PROTOCOL';
    const hints: Partial<Record<KubeErrorCode, string>> = {
      KUBE_UNAUTHORIZED: `the API server did not accept the credentials of ${this.source}: renew the token or client certificate`,
      KUBE_FORBIDDEN: 'grant the deploying identity RBAC get and patch on the workload, and list on pods and events in its namespace (kubectl auth can-i patch deployment/NAME -n NAMESPACE)',
      KUBE_NOT_FOUND: 'check the kind, name and --namespace (kubectl get KIND NAME -n NAMESPACE)',
      KUBE_CONFLICT: 'the object kept changing while it was patched; run again',
      KUBE_INVALID: 'the API server refused the change; see the message',
      KUBE_SERVER: 'the API server failed; retry later',
    };
    const causes = st?.details?.causes?.map((c) => `${c.field ? `${c.field}: ` : ''}${c.message ?? ''}`).filter(Boolean) ?? [];
    const detail = causes.length && !causes.every((c) => message.includes(c)) ? ` (${causes.join('; ')})` : '';
    const hint = hints[code];
    // One line, whatever the server wrote.
    const line = `${what}: ${message}${detail}`.replace(/\s*\n\s*/g, ' ');
    return new KubeError(code, line, { ...base, ...(hint ? { hint } : {}) });
  }

  #path(ref: WorkloadRef): string {
    const r = RESOURCES[ref.kind];
    return `/apis/${r.group}/${r.version}/namespaces/${encodeURIComponent(ref.namespace)}/${r.plural}/${encodeURIComponent(ref.name)}`;
  }

  async getWorkload(ref: WorkloadRef): Promise<KubeObject> {
    return (await this.#request('GET', this.#path(ref), { what: `get ${ref.kind.toLowerCase()}/${ref.name} in namespace ${ref.namespace}` })) as KubeObject;
  }

  async patchWorkload(ref: WorkloadRef, patch: unknown): Promise<KubeObject> {
    return (await this.#request('PATCH', `${this.#path(ref)}?fieldManager=${FIELD_MANAGER}`, {
      body: JSON.stringify(patch),
      contentType: 'application/strategic-merge-patch+json',
      what: `patch ${ref.kind.toLowerCase()}/${ref.name} in namespace ${ref.namespace}`,
    })) as KubeObject;
  }

  async listPods(namespace: string, labelSelector: string): Promise<KubeObject[]> {
    const q = new URLSearchParams({ labelSelector });
    const r = listSchema.safeParse(await this.#request('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?${q}`, { what: `list pods in namespace ${namespace}` }));
    return (r.success ? (r.data.items ?? []) : []) as KubeObject[];
  }

  async listEvents(namespace: string, podName: string): Promise<KubeObject[]> {
    const q = new URLSearchParams({ fieldSelector: `involvedObject.name=${podName},involvedObject.kind=Pod` });
    const r = listSchema.safeParse(await this.#request('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/events?${q}`, { what: `list events of pod ${podName}` }));
    return (r.success ? (r.data.items ?? []) : []) as KubeObject[];
  }

  async close(): Promise<void> {
    await this.#resetDispatcher();
  }
}

/**
 * Run a client-go exec credential plugin: KUBERNETES_EXEC_INFO in, an ExecCredential out (token or
 * client certificate). Never interactive. Its output is a secret and never printed.
 */
export function runExecPlugin(exec: ExecConfig & { cluster: Record<string, unknown> }, target: Pick<KubeTarget, 'server'>): Promise<ExecResult> {
  const apiVersion = exec.apiVersion ?? '';
  if (exec.interactiveMode === 'Always') {
    return Promise.reject(new KubeError('KUBE_CONFIG', `exec plugin ${exec.command} needs an interactive terminal (interactiveMode: Always)`, { hint: 'a CI job has none: use a plugin mode that runs unattended (a service account, a workload identity or a token file)' }));
  }
  if (!/^client\.authentication\.k8s\.io\/(v1|v1beta1)$/.test(apiVersion)) {
    return Promise.reject(new KubeError('KUBE_CONFIG', `exec plugin ${exec.command}: apiVersion "${apiVersion}" is not supported`, { hint: 'use client.authentication.k8s.io/v1 or v1beta1' }));
  }
  const cluster = exec.cluster as { 'certificate-authority-data'?: string; 'insecure-skip-tls-verify'?: boolean; 'tls-server-name'?: string; 'proxy-url'?: string };
  const info = {
    apiVersion,
    kind: 'ExecCredential',
    spec: {
      interactive: false,
      ...(exec.provideClusterInfo
        ? {
            cluster: {
              server: target.server,
              ...(cluster['certificate-authority-data'] ? { 'certificate-authority-data': cluster['certificate-authority-data'] } : {}),
              ...(cluster['insecure-skip-tls-verify'] ? { 'insecure-skip-tls-verify': true } : {}),
              ...(cluster['tls-server-name'] ? { 'tls-server-name': cluster['tls-server-name'] } : {}),
              ...(cluster['proxy-url'] ? { 'proxy-url': cluster['proxy-url'] } : {}),
            },
          }
        : {}),
    },
  };
  const env = { ...process.env, ...Object.fromEntries((exec.env ?? []).map((e) => [e.name, e.value])), KUBERNETES_EXEC_INFO: JSON.stringify(info) };
  return new Promise((resolve, reject) => {
    const child = execFile(exec.command, exec.args ?? [], { env, timeout: 120_000, maxBuffer: 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const notFound = (err as NodeJS.ErrnoException).code === 'ENOENT';
        const last = String(stderr ?? '').trim().split('\n').pop()?.slice(0, 200);
        reject(
          new KubeError('KUBE_EXEC', notFound ? `exec credential plugin "${exec.command}" is not installed` : `exec credential plugin ${exec.command} failed (${err.killed ? 'timed out' : `exit ${String(err.code)}`})${last ? `: ${last}` : ''}`, {
            hint: exec.installHint?.trim().split('\n')[0] ?? 'run the plugin by hand to see why; it must print an ExecCredential',
          }),
        );
        return;
      }
      let parsed: z.infer<typeof execCredentialSchema>;
      try {
        parsed = execCredentialSchema.parse(JSON.parse(stdout));
      } catch {
        reject(new KubeError('KUBE_EXEC', `exec credential plugin ${exec.command} did not print an ExecCredential`, { hint: 'it must print {"apiVersion":..., "kind":"ExecCredential", "status":{"token":...}} on stdout' }));
        return;
      }
      if (parsed.apiVersion !== apiVersion) {
        reject(new KubeError('KUBE_EXEC', `exec credential plugin ${exec.command} answered ${parsed.apiVersion}, not ${apiVersion}`, { hint: 'set the apiVersion the plugin speaks in the kubeconfig' }));
        return;
      }
      const s = parsed.status;
      if (!s.token && !(s.clientCertificateData && s.clientKeyData)) {
        reject(new KubeError('KUBE_EXEC', `exec credential plugin ${exec.command} gave neither a token nor a client certificate`, { hint: 'check the plugin configuration' }));
        return;
      }
      const expires = s.expirationTimestamp ? Date.parse(s.expirationTimestamp) : undefined;
      resolve({
        ...(s.token ? { token: s.token } : {}),
        ...(s.clientCertificateData && s.clientKeyData ? { cert: Buffer.from(s.clientCertificateData), key: Buffer.from(s.clientKeyData) } : {}),
        ...(expires !== undefined && !Number.isNaN(expires) ? { expires } : {}),
      });
    });
    child.stdin?.end();
  });
}
