import { AsyncLocalStorage } from 'node:async_hooks';
import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, EnvHttpProxyAgent, request } from './undici-lite.js';
import { AirlockError } from '../errors.js';
import { drain } from '../util/body.js';
import { sleep } from '../util/sleep.js';
import { DEFAULT_CERTS_DIRS, isLoopback, tlsForHost } from './tls.js';
import { HostRateLimiter } from './rate-limit.js';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, minDelayMs: 250, maxDelayMs: 30_000 };

/** What a retry is reported as (logs, progress, the per-image count). */
export interface RetryInfo {
  url: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

/**
 * Who is billed for a retry: code running inside `retryTally.run(counter, fn)` has every retry it
 * causes (transport, upload or source re-read) added to `counter.retries`. The engine runs each image
 * inside its own counter, so a report says which image needed how many retries.
 */
export const retryTally = new AsyncLocalStorage<{ retries: number }>();

/** How long `close()` waits for requests still in flight before it destroys their connections. */
const CLOSE_GRACE_MS = 2000;

export interface TransportOptions {
  insecureHosts?: readonly string[];
  caFiles?: readonly string[];
  certsDirs?: readonly string[];
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  /** Injected dispatcher (tests use undici's MockAgent); bypasses TLS and proxy setup. */
  dispatcher?: Dispatcher;
  /** Requests per second per registry API host (`registry-1.docker.io` for Docker Hub). */
  rateLimits?: Readonly<Record<string, number>>;
  /** Extra CA files trusted for one host only (API host, with port when it has one). */
  hostCaFiles?: Readonly<Record<string, readonly string[]>>;
  /** Called before each retry, for logs. */
  onRetry?: (info: RetryInfo) => void;
  /**
   * Cancels every request of this transport (SIGINT/SIGTERM): requests in flight and response
   * bodies being streamed are aborted, retries stop, new requests fail at once with INTERRUPTED.
   */
  signal?: AbortSignal;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Registry host (with port) this request is for; `path` is appended. Absolute URLs are used as-is. */
  host: string;
  path: string;
  headers?: Record<string, string>;
  /** A body factory, so a retried request can send its body again. */
  body?: () => Buffer | Readable | string;
  /** Retry transient failures (default: true unless the body is a one-shot stream). */
  retry?: boolean;
  /** Follow redirects (GET/HEAD only; Authorization is dropped when the host changes). */
  followRedirects?: boolean;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** The URL that finally answered (after redirects). */
  url: string;
  /** How many times the request was sent (more than 1 when transient failures were retried). */
  attempts?: number;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRY_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);
/** What OpenSSL reports when the other end answers a TLS handshake in plain HTTP. */
const PLAIN_HTTP_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);

/** Node's codes for a certificate that is not trusted, not valid now, or not for this host. */
export const TLS_ERROR_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_NOT_YET_VALID',
]);

export function header(h: HttpResponse['headers'], name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Parse Retry-After (seconds or HTTP date) into milliseconds. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Exponential backoff with full jitter, capped. */
export function backoffMs(attempt: number, p: RetryPolicy, random = Math.random): number {
  const exp = Math.min(p.maxDelayMs, p.minDelayMs * 2 ** attempt);
  return Math.round(exp / 2 + random() * (exp / 2));
}

function errCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string' && c !== 'UND_ERR') return c;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether an error is a transient network failure worth another attempt (reset, timeout, refused). */
export function isTransientNetworkError(e: unknown): boolean {
  const code = errCode(e);
  return code !== undefined && RETRY_CODES.has(code);
}

/** Whether an HTTP status is worth another attempt (408, 429, 5xx other than 501). */
export function isRetryableStatus(status: number | undefined): boolean {
  return status !== undefined && RETRY_STATUS.has(status);
}

/** What a request is called in logs and errors: the URL itself when `path` is absolute (upload locations). */
export function shownUrl(req: Pick<HttpRequest, 'host' | 'path'>): string {
  return /^https?:\/\//.test(req.path) ? req.path : `${req.host}${req.path}`;
}

function isPlainHttpAnswer(e: unknown): boolean {
  const code = errCode(e);
  const msg = String((e as Error)?.message ?? '');
  return code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO' || /wrong version number|packet length too long/i.test(msg);
}

/**
 * HTTP for registries over undici: per-host TLS (certs.d, --ca-file, insecure hosts), proxies from
 * the environment, scheme detection for loopback and insecure hosts, redirects that never carry
 * credentials to another host, and retries with backoff and jitter honouring Retry-After.
 */
export class Transport {
  readonly #opts: TransportOptions;
  readonly #retry: RetryPolicy;
  readonly #dispatchers = new Map<string, Dispatcher>();
  readonly #schemes = new Map<string, 'http' | 'https'>();
  readonly #probes = new Map<string, Promise<void>>();
  readonly #insecure: Set<string>;
  readonly #rate: HostRateLimiter;

  constructor(opts: TransportOptions = {}) {
    this.#opts = opts;
    // Every request in flight listens on the run's signal: more than 10 is normal, not a leak.
    if (opts.signal) setMaxListeners(0, opts.signal);
    this.#rate = new HostRateLimiter(opts.rateLimits);
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#insecure = new Set(opts.insecureHosts ?? []);
  }

  /** The retry policy in effect (`--retries`): uploads and source re-reads use the same budget. */
  get retryPolicy(): RetryPolicy {
    return this.#retry;
  }

  /** Report a retry decided here or above (uploads, source re-reads): logs, and the image's count. */
  noteRetry(info: RetryInfo): void {
    const tally = retryTally.getStore();
    if (tally) tally.retries++;
    this.#opts.onRetry?.(info);
  }

  isInsecure(host: string): boolean {
    return this.#insecure.has(host) || this.#insecure.has(host.replace(/:\d+$/, ''));
  }

  #dispatcher(host: string): Dispatcher {
    if (this.#opts.dispatcher) return this.#opts.dispatcher;
    let d = this.#dispatchers.get(host);
    if (!d) {
      const tls = tlsForHost(host, {
        certsDirs: [...(this.#opts.certsDirs ?? []), ...DEFAULT_CERTS_DIRS],
        caFiles: [...(this.#opts.caFiles ?? []), ...(this.#opts.hostCaFiles?.[host] ?? this.#opts.hostCaFiles?.[host.replace(/:\d+$/, '')] ?? [])],
        insecure: this.isInsecure(host),
      });
      const useProxy = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => process.env[k]);
      d = useProxy
        ? new EnvHttpProxyAgent({ connect: tls, requestTls: tls })
        : new Agent({ connect: tls, keepAliveTimeout: 30_000, connections: 32 });
      this.#dispatchers.set(host, d);
    }
    return d;
  }

  /** The base URL for a host: https unless loopback/insecure hosts turn out to speak plain HTTP. */
  #base(host: string): string {
    const scheme = this.#schemes.get(host) ?? 'https';
    return `${scheme}://${host}`;
  }

  #mayDowngrade(host: string): boolean {
    return !this.#schemes.has(host) && (isLoopback(host) || this.isInsecure(host));
  }

  /**
   * For a loopback or insecure host, find out once whether it speaks TLS (one `GET /v2/` over
   * https; a plain-HTTP answer means http). Concurrent requests wait for that one answer.
   */
  #probe(host: string, signal?: AbortSignal): Promise<void> {
    let p = this.#probes.get(host);
    if (!p) {
      p = (async () => {
        try {
          const r = await request(`https://${host}/v2/`, { method: 'GET', dispatcher: this.#dispatcher(host), reset: false, headersTimeout: 30_000, ...(signal ? { signal } : {}) });
          await drain(r.body);
          this.#schemes.set(host, 'https');
        } catch (e) {
          if (isPlainHttpAnswer(e)) this.#schemes.set(host, 'http');
          else this.#probes.delete(host); // unreachable now: let the request itself report it
        }
      })();
      this.#probes.set(host, p);
    }
    return p;
  }

  /** The request's own signal combined with the transport's (either cancels it). */
  #signalOf(req: HttpRequest): AbortSignal | undefined {
    const run = this.#opts.signal;
    if (!req.signal) return run;
    if (!run) return req.signal;
    const both = AbortSignal.any([req.signal, run]);
    setMaxListeners(0, both);
    return both;
  }

  /** Why a cancelled request stopped: the abort reason when it is ours (an AirlockError), else INTERRUPTED. */
  static #cancelled(signal: AbortSignal, req: HttpRequest): AirlockError {
    const r: unknown = signal.reason;
    if (r instanceof AirlockError) return r;
    return new AirlockError('INTERRUPTED', `${req.method} ${shownUrl(req).split('?')[0]}: cancelled`, { cause: r });
  }

  async request(input: HttpRequest): Promise<HttpResponse> {
    const signal = this.#signalOf(input);
    const req: HttpRequest = signal ? { ...input, signal } : input;
    if (signal?.aborted) throw Transport.#cancelled(signal, req);
    const canRetry = req.retry ?? true;
    if (this.#mayDowngrade(req.host) && !/^https?:\/\//.test(req.path)) await this.#probe(req.host, signal);
    let attempt = 0;
    for (;;) {
      if (signal?.aborted) throw Transport.#cancelled(signal, req);
      let res: HttpResponse;
      try {
        await this.#rate.acquire(req.host, req.signal);
        res = await this.#once(req);
      } catch (e) {
        if (signal?.aborted) throw Transport.#cancelled(signal, req);
        const code = errCode(e);
        if (code && PLAIN_HTTP_CODES.has(code)) {
          throw new AirlockError('TLS', `${req.host} did not answer HTTPS (${code}): it looks like a plain-HTTP registry`, {
            hint: `if it is meant to serve plain HTTP, allow that for this host only with --insecure-registry ${req.host}`,
            cause: e,
          });
        }
        if (code && TLS_ERROR_CODES.has(code)) {
          throw new AirlockError('TLS', `TLS verification failed for ${req.host}: ${code}`, {
            hint: `add its CA with --ca-file or /etc/docker/certs.d/${req.host}/ca.crt, or mark it --insecure-registry ${req.host}`,
            cause: e,
          });
        }
        if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
          throw new AirlockError('NETWORK', `cannot resolve registry host "${req.host.replace(/:\d+$/, '')}"`, {
            hint: 'check the host name, DNS, or HTTPS_PROXY/NO_PROXY',
            cause: e,
          });
        }
        if (e instanceof AirlockError) throw e;
        if (canRetry && attempt < this.#retry.retries && code && RETRY_CODES.has(code)) {
          const delay = backoffMs(attempt, this.#retry);
          this.noteRetry({ url: shownUrl(req), attempt: attempt + 1, delayMs: delay, reason: code });
          await sleep(delay, signal).catch(() => {
            throw Transport.#cancelled(signal!, req);
          });
          attempt++;
          continue;
        }
        const tries = attempt > 0 ? ` (${attempt + 1} attempts)` : '';
        throw new AirlockError('NETWORK', `${req.method} ${shownUrl(req).split('?')[0]}: ${code ?? (e as Error).message}${tries}`, {
          hint: 'the registry could not be reached; check that it is up and reachable',
          cause: e,
        });
      }
      if (canRetry && RETRY_STATUS.has(res.status) && attempt < this.#retry.retries) {
        await drain(res.body);
        const ra = retryAfterMs(header(res.headers, 'retry-after'));
        const delay = ra !== undefined ? Math.min(ra, this.#retry.maxDelayMs) : backoffMs(attempt, this.#retry);
        // The registry said when to come back: every request to it waits, not only this one.
        if (ra !== undefined) this.#rate.pause(req.host, delay);
        this.noteRetry({ url: shownUrl(req), attempt: attempt + 1, delayMs: delay, reason: `HTTP ${res.status}` });
        await sleep(delay, signal).catch(() => {
          throw Transport.#cancelled(signal!, req);
        });
        attempt++;
        continue;
      }
      return attempt > 0 ? { ...res, attempts: attempt + 1 } : res;
    }
  }

  async #once(req: HttpRequest): Promise<HttpResponse> {
    let url = /^https?:\/\//.test(req.path) ? req.path : `${this.#base(req.host)}${req.path}`;
    let headers: Record<string, string> = { 'user-agent': this.#opts.userAgent ?? 'airlock', ...req.headers };
    const originHost = new URL(url).host;
    for (let hop = 0; hop < 6; hop++) {
      const host = new URL(url).host;
      let r: Dispatcher.ResponseData;
      try {
        r = await request(url, {
          method: req.method,
          headers,
          body: req.body?.(),
          dispatcher: this.#dispatcher(host),
          signal: req.signal,
          // undici closes the connection after a HEAD unless told not to; keep it alive.
          reset: false,
          headersTimeout: 120_000,
          bodyTimeout: 300_000,
        });
      } catch (e) {
        if (url.startsWith('https:') && isPlainHttpAnswer(e) && (this.#schemes.get(host) === 'http' || this.#mayDowngrade(host))) {
          this.#schemes.set(host, 'http');
          url = `http:${url.slice('https:'.length)}`;
          hop--;
          continue;
        }
        throw e;
      }
      if (url.startsWith('https:') && !this.#schemes.has(host)) this.#schemes.set(host, 'https');
      const location = r.headers.location;
      if (
        req.followRedirects !== false &&
        (req.method === 'GET' || req.method === 'HEAD') &&
        [301, 302, 303, 307, 308].includes(r.statusCode) &&
        typeof location === 'string'
      ) {
        await drain(r.body);
        const next = new URL(location, url);
        if (next.host !== originHost) {
          // Never hand the registry's credentials to object storage or anyone else.
          const { authorization: _a, Authorization: _b, ...rest } = headers;
          headers = rest;
        }
        url = next.toString();
        continue;
      }
      return { status: r.statusCode, headers: r.headers, body: r.body, url };
    }
    throw new AirlockError('NETWORK', `${req.method} ${shownUrl(req).split('?')[0]}: too many redirects`, {
      hint: 'the registry or a proxy is redirecting in a loop',
    });
  }

  /** Resolve a Location header against the registry host, keeping the detected scheme. */
  absolute(host: string, location: string): string {
    return new URL(location, `${this.#base(host)}/`).toString();
  }

  /**
   * Close every connection pool. Bounded: a pool waits for the requests it still carries, and a
   * request whose body nobody reads would keep it open for ever, so after `graceMs` the remaining
   * connections are destroyed.
   */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    const pools = [...this.#dispatchers.values()];
    this.#dispatchers.clear();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), graceMs)));
    const closed = Promise.all(pools.map((d) => d.close().catch(() => undefined)));
    try {
      if ((await Promise.race([closed, late])) === 'late') {
        await Promise.all(pools.map((d) => d.destroy().catch(() => undefined)));
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
