/**
 * The three parts of undici the registry client uses, loaded without undici's index: the index also
 * pulls in fetch, WebSocket, caches and mocks, which cost a CLI started once per CI job ~40 ms.
 */
import type { Agent as AgentType, Dispatcher, EnvHttpProxyAgent as EnvHttpProxyAgentType } from 'undici';
import AgentImpl from 'undici/lib/dispatcher/agent.js';
import EnvHttpProxyAgentImpl from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import requestImpl from 'undici/lib/api/api-request.js';
import api from 'undici/lib/api/index.js';
import DispatcherImpl from 'undici/lib/dispatcher/dispatcher.js';

// What undici's index does: the request/connect/stream methods live on Dispatcher.prototype
// (ProxyAgent tunnels with `connect`).
Object.assign((DispatcherImpl as { prototype: object }).prototype, api as object);

export type { Dispatcher };
export const Agent = AgentImpl as unknown as typeof AgentType;
export const EnvHttpProxyAgent = EnvHttpProxyAgentImpl as unknown as typeof EnvHttpProxyAgentType;

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  method: Dispatcher.HttpMethod;
  dispatcher: Dispatcher;
};

/** undici's `request(url, opts)`, against an explicit dispatcher. */
export function request(url: string, opts: RequestOptions): Promise<Dispatcher.ResponseData> {
  const u = new URL(url);
  const { dispatcher, ...rest } = opts;
  return (requestImpl as (this: Dispatcher, o: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>).call(dispatcher, {
    ...rest,
    origin: u.origin,
    path: `${u.pathname}${u.search}`,
  });
}
