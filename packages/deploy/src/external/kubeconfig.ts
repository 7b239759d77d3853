/**
 * Where the cluster is and who we are, as kubectl finds them: `--kubeconfig FILE`, else every file
 * of `KUBECONFIG` merged (the first file to define a name or current-context wins, missing files are
 * skipped, relative paths resolve against the file that holds them), else `~/.kube/config`, else the
 * in-cluster service account. Parsed with `yaml` and checked with zod; unknown fields are ignored,
 * as kubectl ignores them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { KubeError } from './errors.js';

const namedEnv = z.object({ name: z.string(), value: z.string() });

const execSchema = z.object({
  apiVersion: z.string().optional(),
  command: z.string().min(1),
  args: z.array(z.string()).nullish(),
  env: z.array(namedEnv).nullish(),
  installHint: z.string().optional(),
  provideClusterInfo: z.boolean().optional(),
  interactiveMode: z.string().optional(),
});

const clusterSchema = z.object({
  server: z.string().min(1),
  'certificate-authority': z.string().optional(),
  'certificate-authority-data': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
  'tls-server-name': z.string().optional(),
  'proxy-url': z.string().optional(),
  extensions: z.unknown().optional(),
});

const userSchema = z.object({
  token: z.string().optional(),
  tokenFile: z.string().optional(),
  'client-certificate': z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key': z.string().optional(),
  'client-key-data': z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  exec: execSchema.nullish(),
  'auth-provider': z.object({ name: z.string() }).passthrough().nullish(),
});

const contextSchema = z.object({ cluster: z.string(), user: z.string().optional(), namespace: z.string().optional() });

export const kubeconfigSchema = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  clusters: z.array(z.object({ name: z.string(), cluster: clusterSchema })).nullish(),
  users: z.array(z.object({ name: z.string(), user: userSchema.nullish() })).nullish(),
  contexts: z.array(z.object({ name: z.string(), context: contextSchema })).nullish(),
  'current-context': z.string().optional(),
});

export type ExecConfig = z.infer<typeof execSchema>;
type Cluster = z.infer<typeof clusterSchema>;
type User = z.infer<typeof userSchema>;
type Context = z.infer<typeof contextSchema>;

/** Everything needed to reach the API server: the result of loading. */
export interface KubeTarget {
  /** For messages: `kubeconfig ~/.kube/config, context prod` or `in-cluster service account`. */
  source: string;
  context?: string;
  server: string;
  namespace: string;
  ca?: Buffer;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
  auth: {
    token?: string;
    /** Read again for each run (service-account tokens rotate). */
    tokenFile?: string;
    clientCert?: Buffer;
    clientKey?: Buffer;
    basic?: { username: string; password: string };
    exec?: ExecConfig & { cluster: Cluster };
  };
}

export interface LoadOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  env?: NodeJS.ProcessEnv;
  /** The in-cluster service account directory (tests point it elsewhere). */
  serviceAccountDir?: string;
  home?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const configError = (msg: string, hint: string, cause?: unknown) => new KubeError('KUBE_CONFIG', msg, { hint, ...(cause === undefined ? {} : { cause }) });

interface Loaded {
  file: string;
  clusters: Map<string, Cluster>;
  users: Map<string, User>;
  contexts: Map<string, Context>;
  currentContext?: string;
}

function readConfig(file: string): Loaded {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw configError(`cannot read kubeconfig ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check --kubeconfig / KUBECONFIG', e);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (e) {
    throw configError(`kubeconfig ${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`, 'check the file (kubectl config view)', e);
  }
  const r = kubeconfigSchema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0];
    throw configError(`kubeconfig ${file}: invalid at ${i?.path.map(String).join('.') || 'top level'}: ${i?.message ?? 'invalid'}`, 'check the file (kubectl config view)');
  }
  const dir = dirname(resolve(file));
  const abs = (p: string | undefined) => (p === undefined || p === '' || isAbsolute(p) ? p : join(dir, p));
  const out: Loaded = { file, clusters: new Map(), users: new Map(), contexts: new Map(), ...(r.data['current-context'] ? { currentContext: r.data['current-context'] } : {}) };
  for (const c of r.data.clusters ?? []) {
    if (out.clusters.has(c.name)) continue;
    const ca = abs(c.cluster['certificate-authority']);
    out.clusters.set(c.name, { ...c.cluster, ...(ca ? { 'certificate-authority': ca } : {}) });
  }
  for (const u of r.data.users ?? []) {
    if (out.users.has(u.name)) continue;
    const user = { ...(u.user ?? {}) };
    for (const k of ['client-certificate', 'client-key', 'tokenFile'] as const) {
      const v = abs(user[k]);
      if (v) user[k] = v;
    }
    // As client-go: an exec command with a path separator is relative to the kubeconfig; a bare name is looked up on PATH.
    if (user.exec && user.exec.command.includes('/') && !isAbsolute(user.exec.command)) user.exec = { ...user.exec, command: join(dir, user.exec.command) };
    out.users.set(u.name, user);
  }
  for (const c of r.data.contexts ?? []) if (!out.contexts.has(c.name)) out.contexts.set(c.name, c.context);
  return out;
}

/** kubectl's merge: the first file to set a name (or current-context) wins. */
function merge(files: Loaded[]): Loaded {
  const out: Loaded = { file: files.map((f) => f.file).join(delimiter), clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const f of files) {
    for (const [k, v] of f.clusters) if (!out.clusters.has(k)) out.clusters.set(k, v);
    for (const [k, v] of f.users) if (!out.users.has(k)) out.users.set(k, v);
    for (const [k, v] of f.contexts) if (!out.contexts.has(k)) out.contexts.set(k, v);
    if (out.currentContext === undefined && f.currentContext) out.currentContext = f.currentContext;
  }
  return out;
}

function readFileOr(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw configError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the path in the kubeconfig', e);
  }
}

function b64(data: string, what: string): Buffer {
  const buf = Buffer.from(data, 'base64');
  if (!buf.length) throw configError(`the kubeconfig's ${what} is not base64`, 'it holds base64 of a PEM file (base64 -w0 FILE)');
  return buf;
}

function inCluster(o: LoadOptions, env: NodeJS.ProcessEnv): KubeTarget | undefined {
  const dir = o.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(dir, 'token'))) return undefined;
  const nsFile = join(dir, 'namespace');
  const ns = o.namespace ?? (existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() : 'default');
  const caFile = join(dir, 'ca.crt');
  return {
    source: 'the in-cluster service account',
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    namespace: ns || 'default',
    ...(existsSync(caFile) ? { ca: readFileSync(caFile) } : {}),
    insecureSkipTlsVerify: false,
    auth: { tokenFile: join(dir, 'token') },
  };
}

/** Find the cluster, credentials and namespace to use, as kubectl would. */
export function loadKubeTarget(o: LoadOptions = {}): KubeTarget {
  const env = o.env ?? process.env;
  let files: string[];
  let where: string;
  if (o.kubeconfig) {
    if (!existsSync(o.kubeconfig)) throw configError(`kubeconfig ${o.kubeconfig} does not exist`, 'check the path given to --kubeconfig');
    files = [o.kubeconfig];
    where = `kubeconfig ${o.kubeconfig}`;
  } else if (env.KUBECONFIG) {
    files = env.KUBECONFIG.split(delimiter).filter((f) => f && existsSync(f));
    where = `KUBECONFIG ${env.KUBECONFIG}`;
  } else {
    const home = o.home ?? env.HOME ?? homedir();
    const file = join(home, '.kube', 'config');
    files = existsSync(file) ? [file] : [];
    where = `kubeconfig ${file}`;
  }
  if (!files.length) {
    const sa = inCluster(o, env);
    if (sa) return sa;
    throw configError(`no Kubernetes credentials: ${where} not found and not running in a cluster`, 'set KUBECONFIG or pass --kubeconfig FILE (in a pod: mount a service account token)');
  }
  const cfg = merge(files.map(readConfig));
  const contextName = o.context ?? cfg.currentContext;
  if (!contextName) throw configError(`${where} has no current-context`, 'pass --context NAME or set current-context (kubectl config use-context NAME)');
  const ctx = cfg.contexts.get(contextName);
  if (!ctx) throw configError(`context "${contextName}" is not in ${where}`, `known contexts: ${[...cfg.contexts.keys()].join(', ') || 'none'}`);
  const cluster = cfg.clusters.get(ctx.cluster);
  if (!cluster) throw configError(`cluster "${ctx.cluster}" of context "${contextName}" is not in ${where}`, 'check the kubeconfig (kubectl config view)');
  const user: User = ctx.user ? (cfg.users.get(ctx.user) ?? {}) : {};
  if (ctx.user && !cfg.users.has(ctx.user)) throw configError(`user "${ctx.user}" of context "${contextName}" is not in ${where}`, 'check the kubeconfig (kubectl config view)');
  if (user['auth-provider']) {
    throw configError(`user "${ctx.user}" uses the removed auth-provider "${user['auth-provider'].name}"`, 'use an exec credential plugin (e.g. kubelogin, gke-gcloud-auth-plugin), as kubectl >= 1.26 requires');
  }
  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch {
    throw configError(`cluster "${ctx.cluster}": server "${cluster.server}" is not a URL`, 'write https://HOST:PORT');
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') throw configError(`cluster "${ctx.cluster}": server "${cluster.server}" is not http(s)`, 'write https://HOST:PORT');

  const ca = cluster['certificate-authority-data'] ? b64(cluster['certificate-authority-data'], 'certificate-authority-data') : cluster['certificate-authority'] ? readFileOr(cluster['certificate-authority'], 'certificate authority') : undefined;
  const clientCert = user['client-certificate-data'] ? b64(user['client-certificate-data'], 'client-certificate-data') : user['client-certificate'] ? readFileOr(user['client-certificate'], 'client certificate') : undefined;
  const clientKey = user['client-key-data'] ? b64(user['client-key-data'], 'client-key-data') : user['client-key'] ? readFileOr(user['client-key'], 'client key') : undefined;
  if (!!clientCert !== !!clientKey) throw configError(`user "${ctx.user}" has a client certificate without its key (or a key without its certificate)`, 'set both client-certificate[-data] and client-key[-data]');
  if (ca && cluster['insecure-skip-tls-verify']) throw configError(`cluster "${ctx.cluster}" sets both a certificate authority and insecure-skip-tls-verify`, 'remove one of them (kubectl refuses this too)');
  const namespace = o.namespace ?? ctx.namespace ?? 'default';
  return {
    source: `${where}, context ${contextName}`,
    context: contextName,
    server: cluster.server.replace(/\/+$/, ''),
    namespace,
    ...(ca ? { ca } : {}),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    ...(cluster['tls-server-name'] ? { tlsServerName: cluster['tls-server-name'] } : {}),
    ...(cluster['proxy-url'] ? { proxyUrl: cluster['proxy-url'] } : {}),
    auth: {
      ...(user.token ? { token: user.token } : user.tokenFile ? { tokenFile: user.tokenFile } : {}),
      ...(clientCert && clientKey ? { clientCert, clientKey } : {}),
      ...(user.username && user.password !== undefined ? { basic: { username: user.username, password: user.password } } : {}),
      ...(user.exec ? { exec: { ...user.exec, cluster } } : {}),
    },
  };
}
