import { z } from 'zod';
import { AirlockError } from '../errors.js';
import { readLimited } from '../util/body.js';
import { type Challenge, parseChallenges } from './challenge.js';
import type { Credential, CredentialProvider } from './credentials.js';
import type { Transport } from './transport.js';

const tokenResponseSchema = z
  .object({
    token: z.string().optional(),
    access_token: z.string().optional(),
    expires_in: z.number().optional(),
  })
  .refine((t) => t.token || t.access_token, 'no token in the response');

interface CachedToken {
  value: string;
  expiresAt: number;
  host: string;
  scopes: string[];
}

/**
 * Merge scopes by resource (`repository:NAME`), uniting actions, in a canonical order:
 * `repository:a:pull` + `repository:a:push` → `repository:a:pull,push`.
 */
export function mergeScopes(...lists: string[][]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const s of lists.flat()) {
    const i = s.lastIndexOf(':');
    if (i <= 0) continue;
    const res = s.slice(0, i);
    let acts = byResource.get(res);
    if (!acts) byResource.set(res, (acts = new Set()));
    for (const a of s.slice(i + 1).split(',')) if (a) acts.add(a);
  }
  return [...byResource.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([res, acts]) => `${res}:${[...acts].sort().join(',')}`);
}

/** Whether a token granted for `have` also serves a request needing `want`. */
export function scopesCover(have: string[], want: string[]): boolean {
  const merged = mergeScopes(have);
  return mergeScopes(want).every((w) => {
    const i = w.lastIndexOf(':');
    const h = merged.find((m) => m.slice(0, m.lastIndexOf(':')) === w.slice(0, i));
    if (!h) return false;
    const acts = new Set(h.slice(h.lastIndexOf(':') + 1).split(','));
    return w.slice(i + 1).split(',').every((a) => acts.has(a) || acts.has('*'));
  });
}

export function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}
export function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}

/**
 * Registry authentication: Basic, and the Bearer token flow driven by `WWW-Authenticate`
 * (realm/service/scope), with tokens cached per host and scope set. Once a host's challenge is known,
 * tokens for new scopes are fetched before the request instead of after a 401.
 */
export class Authenticator {
  readonly #challenges = new Map<string, Challenge>();
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inflight = new Map<string, Promise<string>>();

  constructor(
    readonly transport: Transport,
    readonly credentials: CredentialProvider,
  ) {}

  /** The Authorization header value to send, when the host's scheme is already known. */
  async authorization(host: string, registry: string, scopes: string[]): Promise<string | undefined> {
    const ch = this.#challenges.get(host);
    if (!ch) return undefined;
    return this.#forChallenge(host, registry, ch, scopes);
  }

  /** Handle a 401: remember the challenge, obtain a fresh credential for these scopes. */
  async challenged(host: string, registry: string, scopes: string[], wwwAuthenticate: string | undefined): Promise<string> {
    const chs = parseChallenges(wwwAuthenticate);
    const ch = chs.find((c) => c.scheme === 'bearer') ?? chs.find((c) => c.scheme === 'basic');
    if (!ch) {
      throw new AirlockError('UNAUTHORIZED', `${registry} refused access and offered no usable authentication scheme`, {
        hint: 'the registry must answer 401 with a Bearer or Basic WWW-Authenticate challenge',
      });
    }
    const known = this.#challenges.get(host);
    this.#challenges.set(host, ch);
    // A 401 despite a cached token means it was revoked or lacks scope: drop it and fetch anew.
    if (known) {
      for (const [k, t] of this.#tokens) if (t.host === host && scopesCover(t.scopes, scopes)) this.#tokens.delete(k);
    }
    const extra = ch.params.scope ? ch.params.scope.split(' ') : [];
    return this.#forChallenge(host, registry, ch, mergeScopes(scopes, extra));
  }

  #key(host: string, scopes: string[], ch: Challenge): string {
    return `${host} ${ch.scheme} ${mergeScopes(scopes).join(' ')}`;
  }

  /** A live token for this host whose grant covers the scopes (a push token serves pulls too). */
  #covering(host: string, scopes: string[]): CachedToken | undefined {
    const now = Date.now();
    for (const t of this.#tokens.values()) if (t.host === host && t.expiresAt > now && scopesCover(t.scopes, scopes)) return t;
    return undefined;
  }

  async #forChallenge(host: string, registry: string, ch: Challenge, scopes: string[]): Promise<string> {
    if (ch.scheme === 'basic') {
      const cred = await this.credentials.get(registry);
      if (!cred || cred.kind !== 'basic') throw unauthorized(registry, !!cred);
      return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
    }
    const key = this.#key(host, scopes, ch);
    const cached = this.#tokens.get(key) ?? this.#covering(host, scopes);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.value}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#fetchToken(host, registry, ch, mergeScopes(scopes)).then((t) => {
        this.#tokens.set(key, t);
        return t.value;
      });
      this.#inflight.set(key, p);
      p.finally(() => this.#inflight.delete(key)).catch(() => undefined);
    }
    return `Bearer ${await p}`;
  }

  async #fetchToken(host: string, registry: string, ch: Challenge, scopes: string[]): Promise<CachedToken> {
    const realm = ch.params.realm;
    if (!realm) throw new AirlockError('UNAUTHORIZED', `${registry}: Bearer challenge without a realm`);
    const cred = await this.credentials.get(registry);
    const url = new URL(realm);
    const service = ch.params.service;
    let res;
    if (cred?.kind === 'identitytoken') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.token, client_id: 'airlock' });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await this.transport.request({
        method: 'POST',
        host: url.host,
        path: url.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: () => form.toString(),
      });
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (cred) url.searchParams.set('account', cred.username);
      res = await this.transport.request({
        method: 'GET',
        host: url.host,
        path: url.toString(),
        headers: cred ? { authorization: basic(cred) } : {},
      });
    }
    const body = await readLimited(res.body, 1024 * 1024, `token from ${url.host}`);
    if (res.status === 401 || res.status === 403) throw unauthorized(registry, !!cred);
    if (res.status !== 200) {
      throw new AirlockError('UNAUTHORIZED', `token service ${url.host} answered HTTP ${res.status} for ${registry}`, {
        hint: body.toString('utf8').slice(0, 200) || 'check the registry and its token service',
        status: res.status,
      });
    }
    let parsed;
    try {
      parsed = tokenResponseSchema.parse(JSON.parse(body.toString('utf8')));
    } catch {
      throw new AirlockError('UNAUTHORIZED', `token service ${url.host} returned an unreadable token for ${registry}`);
    }
    const ttl = Math.max(30, parsed.expires_in ?? 60);
    return { value: (parsed.token ?? parsed.access_token)!, expiresAt: Date.now() + (ttl - 10) * 1000, host, scopes };
  }
}

function basic(cred: Credential): string {
  const secret = cred.kind === 'basic' ? cred.password : cred.token;
  return `Basic ${Buffer.from(`${cred.username}:${secret}`).toString('base64')}`;
}

export function unauthorized(registry: string, hadCredentials: boolean): AirlockError {
  return new AirlockError(
    'UNAUTHORIZED',
    hadCredentials ? `${registry} rejected the credentials` : `${registry} requires authentication`,
    {
      hint: hadCredentials
        ? 'check the user and password/token (AIRLOCK_REGISTRY_USER/AIRLOCK_REGISTRY_PASSWORD or docker config.json)'
        : `provide credentials: AIRLOCK_REGISTRY=${registry} with AIRLOCK_REGISTRY_USER and AIRLOCK_REGISTRY_PASSWORD, DOCKER_AUTH_CONFIG, or docker login`,
      status: 401,
    },
  );
}

