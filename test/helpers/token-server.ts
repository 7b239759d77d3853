import { createPrivateKey, randomUUID, sign, timingSafeEqual, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One entry of a token's `access` claim (Docker token auth spec). */
export interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

/** Live counters of a running token issuer; tests read them to assert token caching. */
export interface TokenServerInfo {
  /** e.g. http://127.0.0.1:PORT/token */
  realm: string;
  service: string;
  issuer: string;
  /** Tokens issued so far (anonymous ones included). */
  issued: number;
  /** Every `scope` value asked for, in order, one entry per scope (repeats kept). */
  scopesRequested: string[];
  /** An OAuth2 refresh token this server accepts (docker config.json `identitytoken`). */
  refreshToken: string;
  /** How many tokens were issued for the refresh-token grant. */
  refreshGrants: number;
}

export interface TokenServer {
  info: TokenServerInfo;
  close(): Promise<void>;
}

/** Actions an authenticated user is granted on any repository, if asked for. */
const GRANTABLE = new Set(['pull', 'push', 'delete', '*']);

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Parses `type:name:actions`; the name may itself hold ':' (e.g. a port), the actions never do. */
export function parseScope(scope: string): TokenAccess | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter(Boolean),
  };
}

/** Signs a JWT with ES256 (raw r||s signature) carrying the signing cert in `x5c`. */
export function signJwt(claims: object, key: KeyObject, certDer: Buffer): string {
  const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Returns the user name for good credentials, null for none, or 'bad' for wrong ones. */
function authenticate(
  req: http.IncomingMessage,
  form: URLSearchParams | undefined,
  username: string,
  password: string,
): string | null | 'bad' {
  let user: string | undefined;
  let pass: string | undefined;
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    user = decoded.slice(0, colon < 0 ? decoded.length : colon);
    pass = colon < 0 ? '' : decoded.slice(colon + 1);
  } else if (form?.get('grant_type') === 'password') {
    user = form.get('username') ?? '';
    pass = form.get('password') ?? '';
  }
  if (user === undefined || pass === undefined) return null;
  return safeEqual(user, username) && safeEqual(pass, password) ? user : 'bad';
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * A tiny Docker-token-auth issuer on a loopback port: GET /token?service=..&scope=.. with optional
 * Basic auth, or POST /token with an OAuth2 password grant form. Anonymous callers get a valid
 * token with no access; wrong credentials get 401; the right ones get the asked-for
 * pull/push/delete/* actions.
 */
export async function startTokenServer(opts: {
  /** Loopback port to listen on; 0 (the default) picks a free one. */
  port?: number;
  service: string;
  issuer: string;
  username: string;
  password: string;
  certFile: string;
  keyFile: string;
  ttlSeconds?: number;
}): Promise<TokenServer> {
  const key = createPrivateKey(await readFile(opts.keyFile));
  const certDer = new X509Certificate(await readFile(opts.certFile)).raw;
  const ttl = opts.ttlSeconds ?? 300;
  const info: TokenServerInfo = {
    realm: '',
    service: opts.service,
    issuer: opts.issuer,
    issued: 0,
    scopesRequested: [],
    refreshToken: `refresh-${randomUUID()}`,
    refreshGrants: 0,
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      res.writeHead(404).end();
      return;
    }
    const form = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : undefined;
    const params = form ?? url.searchParams;
    let who = authenticate(req, form, opts.username, opts.password);
    if (form?.get('grant_type') === 'refresh_token') {
      who = form.get('refresh_token') === info.refreshToken ? opts.username : 'bad';
      if (who !== 'bad') info.refreshGrants += 1;
    }
    if (who === 'bad') {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      return;
    }
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    info.scopesRequested.push(...scopes);
    const access: TokenAccess[] = [];
    if (who !== null) {
      for (const parsed of scopes.map(parseScope)) {
        if (!parsed) continue;
        const actions = parsed.actions.filter((a) => GRANTABLE.has(a));
        if (actions.length) access.push({ ...parsed, actions });
      }
    }
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(
      {
        iss: opts.issuer,
        sub: who ?? '',
        aud: params.get('service') ?? opts.service,
        exp: now + ttl,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      },
      key,
      certDer,
    );
    info.issued += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() }),
    );
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  info.realm = `http://127.0.0.1:${bound}/token`;
  return {
    info,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
