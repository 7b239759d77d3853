import { connectionInputs, credentialInputs, EXIT_CODES_HELP, type InputDef, type StepDef } from '@airlock/step-kit/inputs';

const password: InputDef[] = [
  { name: 'password-file', type: 'string', valueName: 'FILE', description: 'read the key password from FILE (default: the COSIGN_PASSWORD environment variable)' },
  { name: 'cosign-password', type: 'string', secret: true, env: 'COSIGN_PASSWORD', description: 'password of the private key (environment only, as cosign)' },
];


const output: InputDef[] = [
  { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print what was written as JSON on stdout' },
  { name: 'report', type: 'string', valueName: 'FILE', description: 'write the JSON result to FILE' },
];

const keyless: InputDef[] = [
  { name: 'keyless', type: 'boolean', default: false, description: 'sign with a Fulcio certificate for the CI\'s OIDC identity instead of a key (connected side only)' },
  { name: 'identity-token', type: 'string', valueName: '@FILE|env:NAME', description: 'where to read the OIDC token (never the token itself); default: SIGSTORE_ID_TOKEN, else GitHub Actions\' ACTIONS_ID_TOKEN_REQUEST_*' },
  { name: 'fulcio-url', type: 'string', valueName: 'URL', default: 'https://fulcio.sigstore.dev', description: 'Fulcio instance for --keyless' },
  { name: 'rekor-url', type: 'string', valueName: 'URL', default: 'https://rekor.sigstore.dev', description: 'Rekor instance for --keyless' },
  { name: 'tlog-upload', type: 'boolean', default: true, description: 'record keyless signatures in Rekor (--no-tlog-upload to skip)' },
];

const SIGN_HELP = `
Signatures are written where cosign writes them:
  --format legacy (default)  tag sha256-<hex>.sig, one simple-signing layer per signature
                             (existing signatures kept, identical ones not duplicated)
  --format bundle            a Sigstore bundle v0.3 (DSSE, in-toto predicate
                             https://sigstore.dev/cosign/sign/v1) as an OCI 1.1 referrer; the
                             sha256-<hex> fallback tag index on registries without the referrers API
--keyless always writes the bundle form.

Examples:
  COSIGN_PASSWORD=... airlock sign --key cosign.key registry.local/acme/app:1.4
  airlock sign --key cosign.key --recursive -a build=1234 registry.local/acme/app@sha256:...
  airlock sign --keyless --identity-token env:SIGSTORE_ID_TOKEN ghcr.io/acme/app:1.4

${EXIT_CODES_HELP}`;

export const keyGenerateStep: StepDef = {
  name: 'generate',
  summary: 'Generate a cosign key pair (cosign.key encrypted with scrypt + secretbox, cosign.pub)',
  inputs: [
    { name: 'output-key-prefix', type: 'string', valueName: 'PREFIX', default: 'cosign', description: 'write PREFIX.key and PREFIX.pub' },
    { name: 'legacy', type: 'boolean', default: false, description: 'write the older ENCRYPTED COSIGN PRIVATE KEY format (scrypt N=32768) for old cosign/skopeo' },
    { name: 'force', type: 'boolean', default: false, description: 'overwrite existing key files' },
    ...password,
  ],
  help: `
The private key is ECDSA P-256, PKCS#8, encrypted as cosign does (scrypt N=65536 r=8 p=1, NaCl
secretbox). The password comes from COSIGN_PASSWORD or --password-file, never from argv.

Example:
  COSIGN_PASSWORD=... airlock key generate --output-key-prefix release

${EXIT_CODES_HELP}`,
};

export const keyImportStep: StepDef = {
  name: 'import',
  summary: 'Import a PEM private key (PKCS#8, EC or RSA) and encrypt it as a cosign key',
  inputs: [
    { name: 'key', type: 'string', required: true, valueName: 'FILE', description: 'the plain PEM private key to import' },
    { name: 'output-key-prefix', type: 'string', valueName: 'PREFIX', default: 'import-cosign', description: 'write PREFIX.key and PREFIX.pub' },
    { name: 'legacy', type: 'boolean', default: false, description: 'write the older ENCRYPTED COSIGN PRIVATE KEY format' },
    { name: 'force', type: 'boolean', default: false, description: 'overwrite existing key files' },
    ...password,
  ],
  help: `\n${EXIT_CODES_HELP}`,
};

export const signStep: StepDef = {
  ci: { component: 'sign', command: ['sign'], fileCredentials: { key: 'keyCredentialsId' }, example: { images: ['$CI_REGISTRY_IMAGE/app:1.4'], key: '$COSIGN_PRIVATE_KEY' } },
  name: 'sign',
  summary: 'Sign images by digest, cosign-compatible (key or keyless)',
  inputs: [
    { name: 'images', type: 'string[]', positional: true, required: true, valueName: 'REF...', description: 'images to sign: HOST/REPO[:TAG][@DIGEST] or oci:DIR:TAG' },
    { name: 'key', type: 'string', valueName: 'FILE', description: 'cosign private key (cosign.key)' },
    { name: 'annotations', type: 'string[]', short: 'a', valueName: 'KEY=VALUE', default: [], description: 'annotation to sign into the payload (repeatable)' },
    { name: 'recursive', type: 'boolean', default: false, description: 'also sign each platform manifest of an index' },
    { name: 'format', type: 'string', valueName: 'legacy|bundle', default: 'legacy', description: 'signature storage (see below)' },
    { name: 'identity', type: 'string', valueName: 'REPO', description: 'docker-reference to claim (default: the image\'s own repository)' },
    ...keyless,
    ...password,
    ...connectionInputs,
    ...credentialInputs,
    ...output,
  ],
  help: SIGN_HELP,
};

export const attestStep: StepDef = {
  name: 'attest',
  summary: 'Attach a signed in-toto attestation (provenance, SBOM, vulnerability scan, …) to images',
  inputs: [
    { name: 'images', type: 'string[]', positional: true, required: true, valueName: 'REF...', description: 'images to attest' },
    { name: 'key', type: 'string', valueName: 'FILE', description: 'cosign private key' },
    { name: 'type', type: 'string', valueName: 'TYPE', default: 'custom', description: 'slsaprovenance, slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex, custom, or a predicate type URI' },
    { name: 'predicate', type: 'string', required: true, valueName: 'FILE', description: 'the predicate (JSON) to attest' },
    { name: 'format', type: 'string', valueName: 'legacy|bundle', default: 'legacy', description: 'legacy: .att tag with a DSSE layer; bundle: Sigstore bundle referrer' },
    { name: 'replace', type: 'boolean', default: false, description: 'replace existing attestations of the same predicate type (legacy format)' },
    ...keyless,
    ...password,
    ...connectionInputs,
    ...credentialInputs,
    ...output,
  ],
  help: `
Examples:
  airlock attest --key cosign.key --type slsaprovenance1 --predicate provenance.json registry.local/acme/app:1.4
  airlock attest --key cosign.key --type cyclonedx --predicate bom.json --format bundle registry.local/acme/app:1.4

${EXIT_CODES_HELP}`,
};

export const attachSbomStep: StepDef = {
  name: 'sbom',
  summary: 'Attach an SBOM to images (cosign attach sbom: the .sbom tag)',
  inputs: [
    { name: 'images', type: 'string[]', positional: true, required: true, valueName: 'REF...', description: 'images to attach the SBOM to' },
    { name: 'sbom', type: 'string', required: true, valueName: 'FILE', description: 'the SBOM file' },
    { name: 'type', type: 'string', valueName: 'TYPE', default: 'spdx', description: 'spdx, spdxjson, cyclonedx, cyclonedxjson or syft' },
    ...connectionInputs,
    ...credentialInputs,
    ...output,
  ],
  help: `
The SBOM is stored unsigned, as cosign attach sbom does; sign it with "airlock attest --type
spdxjson|cyclonedx" to make it verifiable.

${EXIT_CODES_HELP}`,
};

export const signBlobStep: StepDef = {
  name: 'sign-blob',
  summary: 'Sign a file (bundle, chart, archive) with a cosign key',
  inputs: [
    { name: 'file', type: 'string', positional: true, required: true, valueName: 'FILE', description: 'the file to sign' },
    { name: 'key', type: 'string', valueName: 'FILE', description: 'cosign private key' },
    { name: 'bundle', type: 'string', valueName: 'OUT', description: 'write a Sigstore bundle (v0.3) to OUT' },
    { name: 'output-signature', type: 'string', valueName: 'OUT', description: 'write the base64 signature to OUT (default: stdout)' },
    ...keyless,
    ...password,
  ],
  help: `
Example:
  airlock sign-blob --key cosign.key --bundle media.tar.sigstore.json media.tar

${EXIT_CODES_HELP}`,
};
