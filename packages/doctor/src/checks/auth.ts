import { type Challenge, type Credential, header, isLoopback, parseChallenges, pullScope, pushScope, type Registries, toAirlockError } from '@airlock/oci';
import { type CheckResult, fail, failOrWarn, pass, warn } from '../model.js';
import { discard } from '../io.js';
import { credentialEnvNotes, credentialSource } from './credentials.js';

/** The scheme the registry asked for on an anonymous GET /v2/ (none: it answered 200). */
export function pickChallenge(status: number, wwwAuthenticate: string | undefined): Challenge | undefined {
  if (status !== 401) return undefined;
  const chs = parseChallenges(wwwAuthenticate);
  return chs.find((c) => c.scheme === 'bearer') ?? chs.find((c) => c.scheme === 'basic') ?? { scheme: 'none', params: {} };
}

export function challengeCheck(ch: Challenge | undefined, host: string): CheckResult {
  const id = 'auth.challenge';
  const title = 'Auth challenge';
  if (!ch) return pass(id, title, 'none: the registry answers /v2/ without a login');
  if (ch.scheme === 'basic') return pass(id, title, `Basic${ch.params.realm ? ` (realm "${ch.params.realm}")` : ''}`);
  if (ch.scheme === 'bearer') {
    if (!ch.params.realm) return fail(id, title, 'Bearer without a realm: no token service to ask', 'fix the registry\'s auth configuration (auth.token.realm)');
    let realm: URL;
    try {
      realm = new URL(ch.params.realm);
    } catch {
      return fail(id, title, `Bearer with an unusable realm "${ch.params.realm}"`, "fix the registry's auth.token.realm: it must be an absolute URL");
    }
    const detail = `Bearer: token service ${realm.origin}${realm.pathname}${ch.params.service ? ` (service "${ch.params.service}")` : ''}`;
    if (realm.host !== host && realm.protocol === 'http:' && !isLoopback(realm.host)) return warn(id, title, `${detail}: over plain HTTP, so credentials travel unencrypted`, "serve the token service over HTTPS (the registry's auth.token.realm)");
    return pass(id, title, detail);
  }
  return fail(id, title, `the registry asks for a login but offers no Bearer or Basic scheme (WWW-Authenticate: ${ch.scheme})`, 'Airlock, docker and skopeo speak Basic and Bearer; check the registry (or a proxy rewriting WWW-Authenticate)');
}

export type CredentialLookup = { ok: true; credential?: Credential } | { ok: false; message: string; hint?: string };

export async function lookupCredentials(registries: Registries, registry: string): Promise<CredentialLookup> {
  try {
    const credential = await registries.auth.credentials.get(registry);
    return { ok: true, ...(credential ? { credential } : {}) };
  } catch (e) {
    const err = toAirlockError(e, 'CREDENTIALS');
    return { ok: false, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  }
}

const loginHint = (registry: string) =>
  `AIRLOCK_REGISTRY=${registry} with AIRLOCK_REGISTRY_USER and AIRLOCK_REGISTRY_PASSWORD, DOCKER_AUTH_CONFIG, or docker login ${registry}`;

/** Which credentials apply (the user name and where they come from, never the secret). */
export function credentialsCheck(found: CredentialLookup, ch: Challenge | undefined, registry: string, env: NodeJS.ProcessEnv): CheckResult {
  const id = 'auth.credentials';
  const title = 'Credentials';
  if (!found.ok) return fail(id, title, `cannot read credentials for ${registry}: ${found.message}`, found.hint ?? 'fix or remove the credential configuration named above');
  const notes = credentialEnvNotes(env, registry);
  const noteText = notes.length ? `; ${notes.join('; ')}` : '';
  const c = found.credential;
  if (c) {
    const what = `${c.kind === 'identitytoken' ? 'identity token' : 'user'} ${c.username} from ${credentialSource(env, registry)}`;
    const detail = ch ? what : `${what}; the registry asks for no login, so they are not sent`;
    return notes.length ? warn(id, title, `${detail}${noteText}`, 'remove or correct the settings named above') : pass(id, title, detail);
  }
  if (ch?.scheme === 'basic') return fail(id, title, `none for ${registry}, which requires a login (Basic)${noteText}`, `provide credentials: ${loginHint(registry)}`);
  const detail = ch ? 'none: anonymous (the token service decides what anonymous may do)' : 'none, and none needed';
  return notes.length ? warn(id, title, `${detail}${noteText}`, `if credentials are meant for ${registry}: ${loginHint(registry)}`) : pass(id, title, detail);
}

/** Log in as docker login does: answer the /v2/ challenge with the credentials, expect 200. */
export async function loginCheck(registries: Registries, host: string, registry: string, wwwAuthenticate: string | undefined, c: Credential, ch: Challenge, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  const id = 'auth.login';
  const title = 'Login';
  const how = ch.scheme === 'bearer' ? `a token from ${new URL(ch.params.realm!).host}` : 'Basic';
  const rejected = (detail: string) => fail(id, title, detail, `check the user and password/token in ${credentialSource(env, registry)}; passwords and tokens expire (log in again)`);
  try {
    const authorization = await registries.auth.challenged(host, registry, [], wwwAuthenticate);
    const res = await registries.transport.request({ method: 'GET', host, path: '/v2/', headers: { authorization } });
    await discard(res.body);
    if (res.status === 200) return pass(id, title, `user ${c.username} accepted (${how})`);
    if (res.status === 401) return rejected(`${registry} rejected user ${c.username} (${how}): HTTP 401`);
    return fail(id, title, `GET /v2/ with the credentials answered HTTP ${res.status}`, "look at the registry's logs");
  } catch (e) {
    const err = toAirlockError(e);
    if (err.code === 'UNAUTHORIZED' && err.status === 401) return rejected(`${registry} rejected user ${c.username} (${how})`);
    return fail(id, title, `${how} login failed: ${err.message}`, err.hint ?? 'check the token service named by the challenge');
  }
}

type ScopeOutcome = { status: number; cancelled?: boolean; location?: string } | { error: string; code: string; httpStatus?: number };

async function tryScope(registries: Registries, registry: string, repo: string, action: 'pull' | 'push'): Promise<ScopeOutcome> {
  const client = registries.client(registry);
  try {
    if (action === 'pull') {
      const res = await client.send([pullScope(repo)], { method: 'GET', path: `/v2/${repo}/tags/list?n=1` });
      await discard(res.body);
      return { status: res.status };
    }
    const res = await client.send([pushScope(repo)], { method: 'POST', path: `/v2/${repo}/blobs/uploads/` });
    await discard(res.body);
    const location = header(res.headers, 'location');
    if (res.status !== 202 || !location) return { status: res.status };
    // Cancel the upload session: nothing is written.
    const del = await client.send([pushScope(repo)], { method: 'DELETE', path: registries.transport.absolute(client.host, location) }).catch(() => undefined);
    if (del) await discard(del.body);
    return { status: res.status, cancelled: !!del && del.status < 300, location: registries.transport.absolute(client.host, location) };
  } catch (e) {
    const err = toAirlockError(e);
    return { error: err.message, code: err.code, ...(err.status ? { httpStatus: err.status } : {}) };
  }
}

/** Pull on one repository (GET tags/list): granted or not, as the registry decides. */
export async function pullCheck(registries: Registries, registry: string, repo: string, who: string): Promise<CheckResult> {
  const pull = await tryScope(registries, registry, repo, 'pull');
  const scope = `repository:${repo}:pull`;
  if ('status' in pull && (pull.status === 200 || pull.status === 404)) {
    return pass('auth.pull', 'Pull scope', `${scope} granted to ${who}${pull.status === 404 ? ` (the repository ${repo} does not exist yet)` : ''}`);
  }
  const status = 'status' in pull ? pull.status : pull.httpStatus;
  const detail = 'status' in pull ? `HTTP ${pull.status}` : pull.error;
  const fix =
    status === 401 || status === 403
      ? who === 'anonymous'
        ? `log in: ${loginHint(registry)}`
        : `grant ${who} pull on ${repo} in the registry (or check the repository name: some registries answer 401 for repositories that do not exist)`
      : "look at the registry's logs";
  return fail('auth.pull', 'Pull scope', `${scope} refused for ${who}: ${detail}`, fix);
}

/**
 * Push on one repository: an upload session opened and cancelled (nothing is written). `apiUrl` is
 * where /v2/ answered: an upload URL on another scheme means a TLS proxy in front of the registry
 * that does not tell it so, and every upload would fail.
 */
export async function pushCheck(registries: Registries, registry: string, repo: string, who: string, requirePush: boolean, apiUrl: string): Promise<CheckResult> {
  const push = await tryScope(registries, registry, repo, 'push');
  const scope = `repository:${repo}:push`;
  if ('status' in push && push.status === 202) {
    const scheme = new URL(apiUrl).protocol;
    if (push.location && new URL(push.location).protocol !== scheme) {
      return failOrWarn(
        requirePush,
        'auth.push',
        'Push scope',
        `${scope} granted to ${who}, but the registry hands out upload URLs on ${new URL(push.location).protocol}// (${push.location.split('?')[0]}) while it is reached on ${scheme}//: uploads will fail`,
        'a TLS-terminating proxy in front of the registry must send X-Forwarded-Proto: https (or set http.relativeurls: true in the registry\'s config)',
      );
    }
    return pass('auth.push', 'Push scope', `${scope} granted to ${who} (an upload session was opened and ${push.cancelled ? 'cancelled' : 'left for the registry to purge'}; nothing written)`);
  }
  const status = 'status' in push ? push.status : push.httpStatus;
  const detail = 'status' in push ? `HTTP ${push.status}` : push.error;
  const why = requirePush ? '' : ' (a warning: --require-push makes it a failure)';
  const fix =
    status === 401 || status === 403
      ? `needed only to copy, mirror or sign into ${registry}: ${who === 'anonymous' ? `log in (${loginHint(registry)})` : `grant ${who} push on ${repo}`}`
      : "a read-only registry or pull-through cache: push to the registry's writable endpoint";
  return failOrWarn(requirePush, 'auth.push', 'Push scope', `${scope} refused for ${who}: ${detail}${why}`, fix);
}
