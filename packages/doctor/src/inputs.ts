import { connectionInputs, credentialInputs, type InputDef, type StepDef } from '@airlock/step-kit/inputs';

// Doctor reports what it sees: a flaky registry should show, not be retried away (--retries N to retry).
const connection: InputDef[] = connectionInputs.map((i) =>
  i.name === 'retries' ? { ...i, default: 0, description: 'retries for 408/429/5xx and dropped connections (doctor shows failures as they happen unless asked to retry)' } : i,
);

export const doctorStep: StepDef = {
  name: 'doctor',
  summary: 'Check why a registry or image cannot be reached: DNS, TCP, TLS, API, auth, image, signatures, proxies',
  inputs: [
    { name: 'target', type: 'string', positional: true, valueName: 'REF|HOST', description: 'an image (HOST[:PORT]/REPO[:TAG][@DIGEST]) or a registry (HOST[:PORT]); default: $AIRLOCK_REGISTRY, else $CI_REGISTRY' },
    { name: 'require-push', type: 'boolean', default: false, description: 'push access is needed: a refused push fails instead of warning' },
    { name: 'require-signature', type: 'boolean', default: false, description: 'an unsigned image fails instead of warning' },
    { name: 'timeout', type: 'number', valueName: 'SECONDS', default: 10, description: 'how long DNS, TCP and TLS checks wait for an answer' },
    ...connection,
    ...credentialInputs,
    { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the checks as JSON on stdout (the report lines go to stderr)' },
  ],
  help: `
Checks, in order, each a line with ✅ (works), ⚠️ (works, worth fixing), ❌ (broken, with the fix
to try) or ➖ (skipped because a check it depends on failed):
  proxy          HTTPS_PROXY/HTTP_PROXY/NO_PROXY in effect, and whether this host bypasses them
  dns, tcp       the name resolves; the port accepts connections (through the proxy when one applies)
  tls            chain (and which --ca-file or certs.d file trusted it), expiry, host name; or plain
                 HTTP, allowed for loopback hosts and --insecure-registry hosts only
  api            GET /v2/ answers, with its Docker-Distribution-API-Version
  auth           the challenge (Basic or Bearer token service), the credentials found (user name
                 only, never a secret), whether they are accepted, then pull and push scope by scope
                 (push: an upload session is opened and cancelled; nothing is written)
  image          presence, digest, media type and platforms
  signatures     cosign sha256-<hex>.sig tag and Sigstore bundle referrers (found, not verified:
                 "airlock verify" does that); attestations (.att, bundle referrers) and SBOMs (.sbom)
  referrers      whether the registry has the OCI 1.1 referrers API, else the sha256-<hex> fallback tag

An unsigned image is a warning unless --require-signature; a refused push is a warning unless
--require-push. Credentials come from the same places as for copy (see "Credentials" in the README).

Examples:
  airlock doctor registry.local:5000
  airlock doctor --ca-file corp-ca.crt --require-push registry.local/acme/app:1.4
  AIRLOCK_REGISTRY=registry.local AIRLOCK_REGISTRY_USER=ci AIRLOCK_REGISTRY_PASSWORD=... airlock doctor registry.local/acme/app:1.4
  airlock doctor --json registry.local/acme/app@sha256:... > doctor.json

Exit codes:
  0  nothing needed is broken (warnings may remain)
  1  a check failed: each ❌ line says what to try
  2  usage or input error (unparsable reference, unknown option)`,
};
