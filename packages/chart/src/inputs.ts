import { CREDENTIALS_HELP, EXIT_CODES_HELP, connectionInputs, credentialInputs, type StepDef } from '@airlock/step-kit/inputs';

export const chartGroupSummary = 'Helm charts: copy between HTTP repositories, OCI registries, ChartMuseum and directories; list the images a chart declares';

const sourceHelp = `Chart sources (SRC, CHART):
  https://REPO --name NAME [--version V]   an HTTP chart repository (index.yaml; the chart's digest
                                           there is checked); V is a version or a semver range
                                           (^1.2, ~1.2.0, >=1 <2); default: the latest stable
  oci://HOST/PATH/NAME:VERSION             a chart pushed with helm push (or --version V)
  FILE.tgz                                 a packaged chart (FILE.tgz.prov is taken along)`;

export const chartCopyStep: StepDef = {
  name: 'chart-copy',
  summary: 'Copy a Helm chart to an OCI registry, a ChartMuseum server or a chart repository directory',
  inputs: [
    { name: 'source', type: 'string', positional: true, required: true, valueName: 'SRC', description: 'https://REPO (with --name), oci://HOST/PATH/NAME:VERSION, or a .tgz' },
    { name: 'destination', type: 'string', positional: true, required: true, valueName: 'DST', description: 'oci://HOST/PATH, a ChartMuseum URL (https://HOST), or a directory' },
    { name: 'name', type: 'string', valueName: 'NAME', description: 'chart name in an HTTP repository' },
    { name: 'version', type: 'string', valueName: 'V', description: 'chart version or semver range (default: the latest stable version)' },
    { name: 'created', type: 'string', valueName: 'RFC3339', description: 'org.opencontainers.image.created for a chart pushed to OCI (default: now, as helm push); fix it for a reproducible digest' },
    { name: 'dry-run', type: 'boolean', default: false, description: 'resolve and verify the chart, write nothing' },
    { name: 'force', type: 'boolean', default: false, description: 'push to OCI even when the tag already holds the same digest' },
    { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the result as JSON on stdout' },
    ...connectionInputs,
    ...credentialInputs,
  ],
  outputs: [
    { name: 'digest', description: 'sha256 of the chart .tgz' },
    { name: 'reference', description: 'where the chart was written (oci://HOST/PATH/NAME:TAG, upload URL or file)' },
  ],
  help: `
${sourceHelp}

Destinations (DST):
  oci://HOST/PATH     stored at PATH/NAME:VERSION (+ written _), exactly as helm push stores it:
                      config application/vnd.cncf.helm.config.v1+json (Chart.yaml as JSON), layer
                      application/vnd.cncf.helm.chart.content.v1.tar+gzip, the .prov as
                      application/vnd.cncf.helm.chart.provenance.v1.prov, org.opencontainers.image.*
                      annotations. A chart read from a registry keeps its manifest (and digest).
  https://HOST        ChartMuseum: POST /api/charts (a 409 for the same chart already there is success)
  DIR                 NAME-VERSION.tgz plus an updated index.yaml: any web server then serves DIR as a
                      chart repository

Examples:
  airlock chart copy https://charts.example.com --name ingress-nginx --version '^4.10' oci://registry.local/charts
  airlock chart copy oci://ghcr.io/acme/charts/app:1.2.0 ./media/charts
  airlock chart copy ./media/charts/app-1.2.0.tgz https://chartmuseum.local

Credentials for chart repositories and ChartMuseum come from the same sources as for registries
(Basic auth, looked up by the repository's host).

${CREDENTIALS_HELP}

${EXIT_CODES_HELP}`,
};

export const chartImagesStep: StepDef = {
  name: 'chart-images',
  summary: 'List the container images a Helm chart declares (values, annotations, templates) without rendering it',
  inputs: [
    { name: 'chart', type: 'string', positional: true, required: true, valueName: 'CHART', description: 'a .tgz, oci://HOST/PATH/NAME:VERSION, or https://REPO with --name' },
    { name: 'values', type: 'string[]', valueName: 'FILE', default: [], short: 'f', description: 'values file applied over the chart defaults, as helm install -f (repeatable)' },
    { name: 'name', type: 'string', valueName: 'NAME', description: 'chart name in an HTTP repository' },
    { name: 'version', type: 'string', valueName: 'V', description: 'chart version or semver range' },
    { name: 'json', type: 'boolean', default: false, cliOnly: true, description: 'print the result as JSON on stdout' },
    ...connectionInputs,
    ...credentialInputs,
  ],
  outputs: [{ name: 'images', description: 'the image references found, one per line' }],
  help: `
Found without rendering the chart:
  - image: values (a string "repo:tag", or a map of registry/repository/tag/digest; keys ending in
    Image too) in values.yaml, in each subchart's values.yaml and in --values files; a map without a
    tag takes the chart's appVersion, global.imageRegistry replaces the registry;
  - the helm.sh/images (or artifacthub.io/images) annotation in Chart.yaml;
  - literal "image:" lines in templates (no {{ }} on the line).
Each image says where it was found; values that need rendering are listed as unresolved.

${sourceHelp}

Examples:
  airlock chart images ./app-1.2.0.tgz
  airlock chart images ./app-1.2.0.tgz -f prod-values.yaml --json | jq -r '.images[].reference'

${EXIT_CODES_HELP}`,
};
