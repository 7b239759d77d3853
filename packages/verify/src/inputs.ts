import { connectionInputs as connection, credentialInputs, dotenvInput, EXIT_CODES_HELP, type InputDef, type OutputDef, type StepDef } from '@airlock/step-kit/inputs';

/** Outputs of verify (StepDef.outputs). */
export const verifyOutputs: OutputDef[] = [
  { name: 'images', description: 'how many images were checked' },
  { name: 'verified', description: 'how many of them verified' },
  { name: 'failed', description: 'how many of them did not' },
  { name: 'digests', description: 'JSON object: verified image → manifest digest (GitLab dotenv: one AIRLOCK_DIGEST_<IMAGE> per verified image)' },
];

/** Connection options shared with copy/mirror (same names, same meaning). */
export const registryInputs: InputDef[] = [...connection, ...credentialInputs];

/** Who must have signed: keys, or a keyless (Fulcio) identity checked against a trusted root. */
export const trustInputs: InputDef[] = [
  { name: 'key', type: 'string[]', valueName: 'FILE', default: [], description: 'public key (PEM, e.g. cosign.pub) the signature must verify with (repeatable: any of them)' },
  { name: 'trusted-root', type: 'string', valueName: 'FILE', description: 'Sigstore trusted_root.json for keyless signatures (Fulcio CAs, Rekor and CT log keys, TSAs), checked offline; with --key it also checks transparency-log entries. Default for keyless: the public-good root built into airlock' },
  { name: 'ca-roots', type: 'string', valueName: 'FILE', description: 'your own PKI: PEM root certificates that certificate signatures must chain to (cosign --ca-roots); no transparency log is required' },
  { name: 'ca-intermediates', type: 'string', valueName: 'FILE', description: 'your own PKI: PEM intermediate certificates (cosign --ca-intermediates)' },
  { name: 'certificate-identity', type: 'string', valueName: 'SAN', description: 'keyless: the signing certificate\'s identity (email, URI), exactly' },
  { name: 'certificate-identity-regexp', type: 'string', valueName: 'REGEXP', description: 'keyless: the signing certificate\'s identity, as a regular expression' },
  { name: 'certificate-oidc-issuer', type: 'string', valueName: 'URL', description: 'keyless: the OIDC issuer recorded in the certificate, exactly' },
  { name: 'certificate-oidc-issuer-regexp', type: 'string', valueName: 'REGEXP', description: 'keyless: the OIDC issuer, as a regular expression' },
];

/** How the signed `docker-reference` is matched after mirroring. */
export const identityInputs: InputDef[] = [
  { name: 'identity', type: 'string', valueName: 'REPO', description: 'the repository the signatures must name (docker-reference); default: the repository the image is read from' },
  { name: 'identity-rewrite', type: 'string[]', valueName: 'OLD=NEW', default: [], description: 'rewrite a leading OLD of the signed docker-reference to NEW before comparing (for mirrored images), e.g. docker.io/acme=registry.local/acme (repeatable)' },
  { name: 'ignore-identity', type: 'boolean', default: false, description: 'do not check the signed docker-reference at all (only the manifest digest)' },
];

export const outputInputs: InputDef[] = [
  { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the verified payloads on stdout as cosign does (one JSON array per image)' },
  { name: 'report', type: 'string', valueName: 'FILE', description: 'write an Airlock JSON report (every signature seen, and why it was rejected) to FILE' },
  { name: 'junit', type: 'string', valueName: 'FILE', description: 'write a JUnit XML report (one test case per image) to FILE' },
  { name: 'quiet', type: 'boolean', default: false, short: 'q', description: 'print only failures and the summary' },
];

const CREDENTIALS_HELP = `Registry credentials come from the environment or docker/podman auth files, as for
airlock copy (AIRLOCK_REGISTRY[_USER|_PASSWORD], CI_REGISTRY*, DOCKER_AUTH_CONFIG, ~/.docker/config.json).`;

const POLICY_HELP = `Policy file (YAML; paths are relative to the policy file; the first matching entry applies):
  trustedRoot: trusted_root.json             # default trusted root for keyless signers
  policies:
    - name: acme
      match: [registry.local/acme/*]         # glob on REGISTRY/REPOSITORY: * one path part, ** any
      signatures:
        allOf:                               # every one of these must have signed
          - key: keys/release.pub
        anyOf:                               # at least one of these must have signed
          - identity: https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main
            issuer: https://token.actions.githubusercontent.com
          - identityRegexp: ^.*@acme\\.example$
            issuerRegexp: ^https://accounts\\.google\\.com$
            trustedRoot: other_root.json
      identity:                              # signed docker-reference (legacy .sig signatures)
        rewrite: [upstream.example/acme=registry.local/acme]
      attestations:
        - type: slsaprovenance               # cosign --type alias or predicate URI
          signers: [{ key: keys/builder.pub }] # default: the signers above (any of them)
          fields:                            # equality checks on the in-toto statement
            predicate.buildType: https://example.com/build/v1
    - match: "**"
      signatures: { anyOf: [{ key: keys/release.pub }] }
See packages/verify/README.md for the full format.`;

export const verifyStep: StepDef = {
  name: 'verify',
  summary: 'Verify cosign signatures (legacy .sig and Sigstore bundle referrers) of images, offline',
  inputs: [
    { name: 'image', type: 'string[]', positional: true, valueName: 'REF...', description: 'HOST/REPO[:TAG][@DIGEST] or oci:DIR[:TAG] (several allowed)' },
    ...trustInputs,
    ...identityInputs,
    { name: 'policy', type: 'string', valueName: 'FILE', description: 'check each image against a policy file (YAML, see below) instead of --key/--certificate-*' },
    { name: 'file', type: 'string', short: 'f', valueName: 'LIST', description: 'verify every image of a mirror list (airlock mirror --file format): the DESTINATION of each line, else its SOURCE' },
    ...outputInputs,
    ...registryInputs,
    dotenvInput,
  ],
  outputs: verifyOutputs,
  help: `
A signature counts only if it verifies with a trusted key or certificate over its payload AND the
payload names the image's manifest digest (and, for legacy signatures, a docker-reference that
matches the image's repository after --identity-rewrite, or --identity). Signatures are read from
cosign's sha256-<hex>.sig tag and from Sigstore bundle referrers (OCI 1.1 referrers API or the
sha256-<hex> fallback tag). Everything is checked offline: no Rekor, Fulcio or TUF access.

Examples:
  airlock verify --key cosign.pub registry.local/acme/app:1.2
  airlock verify --key cosign.pub --identity-rewrite ghcr.io/acme=registry.local/acme registry.local/acme/app:1.2
  airlock verify --trusted-root trusted_root.json \\
      --certificate-identity-regexp '^https://github.com/acme/' \\
      --certificate-oidc-issuer https://token.actions.githubusercontent.com registry.local/acme/app:1.2
  airlock verify --policy policy.yaml --file images.txt --report verify.json --junit verify.xml

${POLICY_HELP}

With --json, stdout holds one JSON array per image of the valid signatures' payloads
({"critical":{...},"optional":{...}}), as cosign verify prints them.

${CREDENTIALS_HELP}

${EXIT_CODES_HELP.replace('1  an operation failed (the summary names each failure and why)', '1  an image has no valid signature or fails the policy (each rejected signature is named, with why)')}`,
};

export const verifyAttestationStep: StepDef = {
  name: 'verify-attestation',
  summary: 'Verify in-toto attestations of images (legacy .att and Sigstore bundle referrers), offline',
  inputs: [
    { name: 'image', type: 'string[]', positional: true, valueName: 'REF...', description: 'HOST/REPO[:TAG][@DIGEST] or oci:DIR[:TAG] (several allowed)' },
    { name: 'type', type: 'string', valueName: 'TYPE', description: 'predicate type: a cosign alias (slsaprovenance, slsaprovenance1, spdxjson, cyclonedx, vuln, openvex, custom, ...) or a URI; default: any' },
    ...trustInputs,
    { name: 'policy', type: 'string', valueName: 'FILE', description: 'check the attestations the matching policy entry requires (types and predicate fields; its signers unless --key/--certificate-* are given)' },
    { name: 'file', type: 'string', short: 'f', valueName: 'LIST', description: 'verify every image of a mirror list: the DESTINATION of each line, else its SOURCE' },
    ...outputInputs.map((i) => (i.name === 'json' ? { ...i, description: 'print each verified attestation\'s DSSE envelope on stdout (one JSON object per line), as cosign does' } : i)),
    ...registryInputs,
  ],
  help: `
An attestation counts only if its DSSE envelope verifies with a trusted key or certificate, its
in-toto statement's subject is the image's manifest digest, and its predicate type is --type.

Examples:
  airlock verify-attestation --key cosign.pub --type slsaprovenance registry.local/acme/app:1.2
  airlock verify-attestation --policy policy.yaml --type slsaprovenance registry.local/acme/app:1.2

The policy file is the one airlock verify --policy reads (see airlock verify --help).

${CREDENTIALS_HELP}

${EXIT_CODES_HELP.replace('1  an operation failed (the summary names each failure and why)', '1  an image has no valid attestation of the type (each rejected one is named, with why)')}`,
};

export const verifyBlobStep: StepDef = {
  name: 'verify-blob',
  summary: 'Verify a file against a Sigstore bundle or a base64 signature, offline',
  inputs: [
    { name: 'blob', type: 'string', positional: true, required: true, valueName: 'FILE', description: 'the signed file' },
    { name: 'bundle', type: 'string', valueName: 'FILE', description: 'Sigstore bundle (cosign sign-blob --bundle, v0.1-v0.3)' },
    { name: 'signature', type: 'string', valueName: 'SIG', description: 'plain signature: base64, or a file holding it (needs --key)' },
    ...trustInputs.map((i) => (i.name === 'key' ? { ...i, type: 'string' as const, default: undefined, description: 'public key (PEM, e.g. cosign.pub)' } : i)),
    { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the verification result as JSON on stdout' },
  ],
  help: `
Examples:
  airlock verify-blob --key cosign.pub --bundle artifact.sigstore.json artifact.tgz
  airlock verify-blob --key cosign.pub --signature artifact.sig artifact.tgz
  airlock verify-blob --trusted-root trusted_root.json --certificate-identity builder@acme.example \\
      --certificate-oidc-issuer https://accounts.google.com --bundle artifact.sigstore.json artifact.tgz

Keyless bundles are checked offline against the trusted root: certificate chain, SCTs,
transparency-log proofs or signed entry timestamps, and RFC 3161 timestamps.

${EXIT_CODES_HELP.replace('1  an operation failed (the summary names each failure and why)', '1  the signature does not verify (the reason is printed)')}`,
};
