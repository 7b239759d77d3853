import { connectionInputs, credentialInputs, CREDENTIALS_HELP, dotenvInput, EXIT_CODES_HELP, transferOutputs, type InputDef, type StepDef } from '@airlock/step-kit/inputs';

/** Definitions only (the CLI and the CI wrappers are built from these); nothing here runs. */

const output: InputDef[] = [
  { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the machine-readable result on stdout' },
  { name: 'report', type: 'string', valueName: 'FILE', description: 'write the JSON result to FILE' },
  { name: 'quiet', type: 'boolean', default: false, short: 'q', description: 'print only failures and the summary' },
];

const bundleArg: InputDef = {
  name: 'bundle-file',
  type: 'string[]',
  positional: true,
  required: true,
  valueName: 'FILE...',
  description: 'the bundle: FILE, or a split bundle\'s FILE.parts.json, first part FILE.001, or all its parts',
};

const inventoryKey: InputDef[] = [
  { name: 'key', type: 'string[]', valueName: 'FILE', default: [], description: 'public key (cosign.pub) the inventory\'s signature must verify with; without it the signature is not checked' },
];

export const bundleCreateStep: StepDef = {
  name: 'create',
  ci: { component: 'bundle-create', command: ['bundle', 'create'], fileCredentials: { 'sign-key': 'keyCredentialsId' }, example: { file: 'airlock.yaml', output: 'airlock-bundle.tar', 'split-size': '4G' } },
  summary: 'Write images (with signatures and referrers), files and charts into one verified bundle file for physical media',
  inputs: [
    { name: 'file', type: 'string', required: true, short: 'f', valueName: 'airlock.yaml', description: 'what goes in: images:, files:, charts: (see below and docs/bundle-format.md)' },
    { name: 'output', type: 'string', required: true, short: 'o', valueName: 'FILE', description: 'the bundle to write (with --split-size: FILE.001, FILE.002, … and FILE.parts.json)' },
    { name: 'split-size', type: 'string', valueName: 'SIZE', description: 'cut the bundle into parts of at most SIZE: 4G (FAT32), 4.7G (DVD), 25G (Blu-ray), 700M; SI units (G = 10^9), or GiB/MiB' },
    { name: 'since', type: 'string', valueName: 'BUNDLE|INVENTORY', description: 'incremental: leave out every blob this earlier bundle (or its airlock-inventory.json) already carried' },
    { name: 'sign-key', type: 'string', valueName: 'FILE', description: 'sign the inventory with this cosign private key (a Sigstore bundle, in the tar and beside it as FILE.sigstore.json)' },
    { name: 'password-file', type: 'string', valueName: 'FILE', description: 'read the --sign-key password from FILE (default: COSIGN_PASSWORD)' },
    { name: 'cosign-password', type: 'string', secret: true, env: 'COSIGN_PASSWORD', description: 'password of --sign-key (environment only, as cosign)' },
    { name: 'require-signature', type: 'boolean', default: false, description: 'refuse to bundle any image whose signature does not verify (with --key or --policy)' },
    { name: 'key', type: 'string[]', valueName: 'FILE', default: [], description: 'with --require-signature: public key an image signature must verify with (repeatable: any of them)' },
    { name: 'policy', type: 'string', valueName: 'FILE', description: 'with --require-signature: a verify policy file (as airlock verify --policy)' },
    { name: 'platform', type: 'string[]', valueName: 'OS/ARCH[/VARIANT]', default: [], description: 'only this platform (repeatable); default all, the index kept byte-identical' },
    { name: 'no-referrers', type: 'boolean', default: false, description: 'leave out cosign signatures, attestations, SBOMs and OCI referrers' },
    { name: 'concurrency', type: 'number', valueName: 'N', default: 8, description: 'parallel requests while resolving images' },
    { name: 'dry-run', type: 'boolean', default: false, description: 'resolve everything and print what would go in and the bundle\'s exact size; write nothing' },
    ...output,
    dotenvInput,
    ...connectionInputs,
    ...credentialInputs,
  ],
  outputs: [
    { name: 'bundle', description: 'path of the bundle (or of FILE.parts.json when split)' },
    { name: 'inventory-digest', description: 'sha256 of the inventory (what the signature covers)' },
    { name: 'size', description: 'the bundle\'s size in bytes' },
  ],
  help: `
airlock.yaml (paths relative to it):
  images:                                  # the entries of a mirror list
    - registry.example.com/acme/app:1.4
    - source: oci:./layouts/tool:2.0       # an OCI layout needs the name it will carry
      destination: registry.example.com/acme/tool:2.0
      platforms: [linux/amd64]
  files:                                   # stored as OCI artifacts with their names
    - path: ./docs/install.pdf
    - path: ./config
      name: config
  charts:                                  # stored as helm push does; see docs/bundle-format.md
    - file: ./charts/app-1.4.0.tgz
    - repo: https://charts.example.com     # index.yaml; digest checked
      name: web
      version: ^1.4.0                      # exact or a semver range
      images-from-chart: true              # the chart's images join the bundle
    - oci: oci://registry.example.com/charts/api:1.4.0

Examples:
  airlock bundle create -f airlock.yaml -o /media/usb/release-1.4.tar --split-size 4G --sign-key cosign.key
  airlock bundle create -f airlock.yaml -o week-12.tar --since week-11.tar
  airlock bundle create -f airlock.yaml -o r.tar --require-signature --key release.pub

The bundle is one uncompressed tar whose root is an OCI image layout (skopeo inspect
oci-archive:FILE:REF reads it), plus airlock-inventory.json and its checksum. Blobs shared by
images are stored once; digests are kept; the same inputs give byte-identical bundles
(SOURCE_DATE_EPOCH sets the recorded creation time). It is streamed from the sources straight
into FILE under a temp name and renamed when complete.

${CREDENTIALS_HELP}

${EXIT_CODES_HELP}`,
};

export const bundleVerifyStep: StepDef = {
  name: 'verify',
  summary: 'Check a bundle: every part, the inventory\'s checksum and signature, every blob',
  inputs: [bundleArg, ...inventoryKey, ...output],
  help: `
Reads every byte once: each part against FILE.parts.json, the inventory against its checksum
(and, with --key, its signature), every blob against its digest; then that every manifest's
content is present. Each problem names its part, entry or blob and the offset. Exit 1 on any.

Examples:
  airlock bundle verify /media/usb/release-1.4.tar --key release.pub
  airlock bundle verify /media/dvd1/release.tar.001          # a split bundle: its first part

${EXIT_CODES_HELP}`,
};

export const bundleLoadStep: StepDef = {
  name: 'load',
  ci: { component: 'bundle-load', command: ['bundle', 'load'], example: { 'bundle-file': ['/media/usb/airlock-bundle.tar'], to: '$CI_REGISTRY/mirror', key: ['cosign.pub'] } },
  summary: 'Push a bundle\'s images (with signatures and referrers) into a registry or an OCI layout, verifying as it reads',
  inputs: [
    bundleArg,
    { name: 'to', type: 'string', valueName: 'PREFIX', description: 'destination prefix: HOST/a/b:tag goes to PREFIX/a/b:tag; or oci:DIR for an OCI layout' },
    { name: 'rewrite', type: 'string[]', valueName: 'OLD=NEW', default: [], description: 'replace a leading name prefix, e.g. gcr.io/acme=registry.local/acme (repeatable; first match wins)' },
    { name: 'chart-repo', type: 'string', valueName: 'URL', description: 'push the bundle\'s charts to this ChartMuseum-compatible repository (POST /api/charts) instead of PREFIX/charts/' },
    ...inventoryKey,
    { name: 'no-referrers', type: 'boolean', default: false, description: 'do not push signatures, attestations, SBOMs and referrers' },
    { name: 'concurrency', type: 'number', valueName: 'N', default: 8, description: 'parallel blob uploads (and images in flight)' },
    { name: 'chunk-size', type: 'number', valueName: 'BYTES', description: 'upload in PATCH chunks of this size (for proxies that limit request bodies)' },
    { name: 'dry-run', type: 'boolean', default: false, description: 'check the bundle and the destination, push nothing; report what would be pushed' },
    { name: 'junit', type: 'string', valueName: 'FILE', description: 'write a JUnit XML report (one test case per image) to FILE' },
    ...output,
    dotenvInput,
    ...connectionInputs,
    ...credentialInputs,
  ],
  outputs: transferOutputs,
  help: `
The bundle's structure and inventory checksum (and with --key its signature) are checked before
anything is pushed; every blob is verified against its digest as it streams, before the upload
completes. Pushing is the mirror engine's: blobs the registry has are skipped, shared ones are
mounted, manifests and tags go last. Interrupted, a re-run pushes only what is missing.

Examples:
  airlock bundle load /media/usb/release-1.4.tar --to registry.local/mirror --key release.pub
  airlock bundle load release.tar.parts.json --rewrite registry.example.com/acme=registry.local/acme
  airlock bundle load release.tar --to oci:/srv/images --report load.json --junit load.xml

${CREDENTIALS_HELP}

${EXIT_CODES_HELP}`,
};

export const bundleListStep: StepDef = {
  name: 'list',
  summary: 'List what a bundle holds: images, files and charts, with digests, platforms, sizes and signatures',
  inputs: [bundleArg, { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the inventory as JSON' }],
  help: `
Example:
  airlock bundle list release.tar

${EXIT_CODES_HELP}`,
};

export const bundleExtractStep: StepDef = {
  name: 'extract',
  summary: 'Write a file or chart stored in a bundle to a directory (verified)',
  inputs: [
    bundleArg,
    { name: 'file', type: 'string', valueName: 'PATH', description: 'the file or directory entry to extract (its name in bundle list)' },
    { name: 'chart', type: 'string', valueName: 'NAME[@VERSION]', description: 'the chart to extract, as NAME-VERSION.tgz' },
    { name: 'output', type: 'string', required: true, short: 'o', valueName: 'DIR', description: 'directory to write into (created if missing)' },
  ],
  help: `
Examples:
  airlock bundle extract release.tar --file docs/install.pdf -o ./out
  airlock bundle extract release.tar --chart app@1.4.0 -o ./charts

${EXIT_CODES_HELP}`,
};

export const bundleDiffStep: StepDef = {
  name: 'diff',
  summary: 'What an incremental bundle would carry between two bundles (images added, changed, removed; bytes)',
  inputs: [
    { name: 'old', type: 'string', positional: true, required: true, valueName: 'OLD', description: 'the earlier bundle (or its parts file, or its airlock-inventory.json)' },
    { name: 'new', type: 'string', positional: true, required: true, valueName: 'NEW', description: 'the later bundle (or its parts file, or its airlock-inventory.json)' },
    { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the difference as JSON' },
  ],
  help: `
Example:
  airlock bundle diff week-11.tar week-12.tar

${EXIT_CODES_HELP}`,
};

export const bundleSteps = [bundleCreateStep, bundleVerifyStep, bundleLoadStep, bundleListStep, bundleExtractStep, bundleDiffStep];
export const BUNDLE_SUMMARY = 'Offline bundles for physical media: create, verify, load, list, extract, diff';
