// Deep imports of undici's CommonJS modules that @airlock/oci's declarations do not cover.
declare module 'undici/lib/dispatcher/proxy-agent.js' {
  const ProxyAgent: unknown;
  export default ProxyAgent;
}
