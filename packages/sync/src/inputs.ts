import { CREDENTIALS_HELP, EXIT_CODES_HELP, transferInputs, type StepDef } from '@airlock/step-kit/inputs';

export const syncStep: StepDef = {
  name: 'sync',
  ci: { component: 'sync', command: ['sync'], parallel: true, example: { file: 'sync.yaml', parallel: 3 } },
  summary: 'Keep a private registry in step with upstream: tag selection, cheap no-op runs, sharding, reports and alerts',
  inputs: [
    { name: 'file', type: 'string', required: true, short: 'f', valueName: 'SYNC_YAML', description: 'what to keep in sync (see docs/sync.md): defaults, registries, images with tag selection' },
    { name: 'shard', type: 'string', valueName: 'I/N', description: 'do only shard I of N (1-based) of the resolved work list; default from CI_NODE_INDEX/CI_NODE_TOTAL (GitLab parallel:)' },
    { name: 'max-failures', type: 'number', valueName: 'N', default: 0, description: 'exit 0 while at most N images failed (they are still reported)' },
    { name: 'on-failure-exec', type: 'string', valueName: 'CMD', description: 'run CMD (with /bin/sh) when anything failed; the report path is $1 and AIRLOCK_SYNC_REPORT; secrets are removed from its environment' },
    { name: 'prune', type: 'boolean', default: false, description: 'delete destination tags that left a repository entry\'s selection (listed first; only in repositories sync.yaml manages)' },
    // sync.yaml's defaults.concurrency applies unless --concurrency is given.
    ...transferInputs.map((i) => (i.name === 'concurrency' ? { ...i, default: undefined, description: `${i.description} (default: sync.yaml defaults.concurrency, else 8)` } : i)),
  ],
  outputs: [
    { name: 'synced', description: 'how many images were copied' },
    { name: 'up-to-date', description: 'how many images were already in sync' },
    { name: 'failed', description: 'how many images failed' },
    { name: 'report', description: 'path of the JSON report' },
  ],
  help: `
sync.yaml:
  defaults:
    to: registry.local/mirror            # or rewrite: ["docker.io/library=registry.local/library"]
    platforms: [linux/amd64]             # optional; default all platforms
    referrers: true                      # cosign signatures, attestations, SBOMs, OCI referrers
    concurrency: 8
  registries:
    docker.io:
      username-env: DOCKERHUB_USER       # names of environment variables, never values
      password-env: DOCKERHUB_TOKEN
      requests-per-second: 5             # 429 + Retry-After is always honoured
    registry.local: { ca-file: /etc/airlock/ca.pem }
  images:
    - docker.io/library/nginx:1.27                       # one reference
    - ghcr.io/acme/app@sha256:…                          # pinned by digest
    - repository: docker.io/library/postgres             # tags selected from the repository
      semver: ">=15 <17"                                 # pre-releases only with prereleases: true
      latest: 2                                          # newest N (by version, else creation time)
      include: ['^\\d+(\\.\\d+)*$']                      # tags:, include:, exclude: also work

Examples:
  airlock sync -f sync.yaml --report sync.json --junit sync.xml
  airlock sync -f sync.yaml --dry-run                    # what would be copied and why
  airlock sync -f sync.yaml --shard 2/3                  # or CI_NODE_INDEX/CI_NODE_TOTAL
  airlock sync -f sync.yaml --on-failure-exec 'mail -s "image sync failed" ops@example.com < "$1"'
  airlock report merge shard-*.json -o sync.json --junit sync.xml

An unchanged image costs a HEAD at each end (plus a HEAD pair per cosign tag it has); each source
repository's tags are listed once. The exit code is 1 when more than --max-failures images failed.

${CREDENTIALS_HELP}

${EXIT_CODES_HELP}`,
};
