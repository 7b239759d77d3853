import { parse as parseYaml } from 'yaml';
import semver from 'semver';
import { z } from 'zod';
import { AirlockError } from '@airlock/oci';
import { goMarshal, goString } from '@airlock/cosign/gojson';

/**
 * Chart.yaml, read as Helm reads it, and the two forms Helm derives from it: the OCI config JSON
 * (`helm push`: chart.Metadata marshalled by Go's encoding/json, in its struct field order) and the
 * manifest annotations (`org.opencontainers.image.*`).
 */

/** YAML read with the failsafe schema gives every scalar as written; these take the booleans back. */
const bool = z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False', 'TRUE', 'FALSE'])]).transform((v) => v === true || (typeof v === 'string' && v.toLowerCase() === 'true'));
const str = z.string();
const strList = z.array(str);

const maintainerSchema = z.object({ name: str.nullish(), email: str.nullish(), url: str.nullish() });
const dependencySchema = z.object({
  name: str,
  version: str.nullish(),
  repository: str.nullish(),
  condition: str.nullish(),
  tags: strList.nullish(),
  enabled: bool.nullish(),
  'import-values': z.array(z.unknown()).nullish(),
  alias: str.nullish(),
});

export const chartMetadataSchema = z.object({
  apiVersion: str,
  name: str.regex(/^[A-Za-z0-9._-]+$/, 'a chart name is letters, digits, . _ -'),
  version: str.refine((v) => semver.valid(v) !== null, 'not a SemVer 2 version'),
  kubeVersion: str.nullish(),
  description: str.nullish(),
  type: str.nullish(),
  keywords: strList.nullish(),
  home: str.nullish(),
  sources: strList.nullish(),
  dependencies: z.array(dependencySchema).nullish(),
  maintainers: z.array(maintainerSchema).nullish(),
  icon: str.nullish(),
  appVersion: str.nullish(),
  deprecated: bool.nullish(),
  annotations: z.record(str, str).nullish(),
  condition: str.nullish(),
  tags: str.nullish(),
});
export type ChartMetadata = z.infer<typeof chartMetadataSchema>;

export function parseChartYaml(text: string, what: string): ChartMetadata {
  let doc: unknown;
  try {
    // failsafe: `version: 1.10` stays "1.10", as the author wrote it, not the number 1.1.
    doc = parseYaml(text, { schema: 'failsafe' });
  } catch (e) {
    throw new AirlockError('BAD_INPUT', `${what}: Chart.yaml is not valid YAML: ${(e as Error).message.split('\n')[0]}`, { hint: 'fix Chart.yaml and package the chart again' });
  }
  const r = chartMetadataSchema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new AirlockError('BAD_INPUT', `${what}: invalid Chart.yaml${i?.path.length ? ` at ${i.path.join('.')}` : ''}: ${i?.message ?? 'invalid'}`, {
      hint: 'Chart.yaml needs apiVersion, name and a SemVer version (helm lint says more)',
    });
  }
  return r.data;
}

/** `"key":value` pairs in order, leaving out empty values as Go's `omitempty` does. */
function goObject(fields: [string, string | undefined][]): string {
  return `{${fields.filter((f): f is [string, string] => f[1] !== undefined).map(([k, v]) => `${goString(k)}:${v}`).join(',')}}`;
}
const s = (v: string | null | undefined) => (v ? goString(v) : undefined);
const list = (v: string[] | null | undefined) => (v && v.length ? `[${v.map(goString).join(',')}]` : undefined);

/** The OCI config `helm push` writes: chart.Metadata as Go's json.Marshal writes it. */
export function helmConfigJson(m: ChartMetadata): Buffer {
  const maintainers = m.maintainers?.length ? `[${m.maintainers.map((x) => goObject([['name', s(x.name)], ['email', s(x.email)], ['url', s(x.url)]])).join(',')}]` : undefined;
  const dependencies = m.dependencies?.length
    ? `[${m.dependencies
        .map((d) =>
          goObject([
            ['name', goString(d.name)],
            ['version', s(d.version)],
            ['repository', goString(d.repository ?? '')],
            ['condition', s(d.condition)],
            ['tags', list(d.tags)],
            ['enabled', d.enabled ? 'true' : undefined],
            ['import-values', d['import-values']?.length ? goMarshal(d['import-values']) : undefined],
            ['alias', s(d.alias)],
          ]),
        )
        .join(',')}]`
    : undefined;
  return Buffer.from(
    goObject([
      ['name', s(m.name)],
      ['home', s(m.home)],
      ['sources', list(m.sources)],
      ['version', s(m.version)],
      ['description', s(m.description)],
      ['keywords', list(m.keywords)],
      ['maintainers', maintainers],
      ['icon', s(m.icon)],
      ['apiVersion', s(m.apiVersion)],
      ['condition', s(m.condition)],
      ['tags', s(m.tags)],
      ['appVersion', s(m.appVersion)],
      ['deprecated', m.deprecated ? 'true' : undefined],
      ['annotations', m.annotations && Object.keys(m.annotations).length ? goMarshal(m.annotations) : undefined],
      ['kubeVersion', s(m.kubeVersion)],
      ['dependencies', dependencies],
      ['type', s(m.type)],
    ]),
  );
}

/** RFC 3339 in UTC to the second, as Go's time.RFC3339 writes it. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The manifest annotations `helm push` writes: description, title, version, url, created, source,
 * authors from Chart.yaml, then the chart's own annotations (which may not replace title or version).
 */
export function helmAnnotations(m: ChartMetadata, created: string): Record<string, string> {
  const a: Record<string, string> = {};
  const add = (k: string, v: string | null | undefined) => {
    if (v && v.trim() !== '') a[k] = v;
  };
  add('org.opencontainers.image.description', m.description);
  add('org.opencontainers.image.title', m.name);
  add('org.opencontainers.image.version', m.version);
  add('org.opencontainers.image.url', m.home);
  add('org.opencontainers.image.created', created);
  if (m.sources?.length) add('org.opencontainers.image.source', m.sources[0]);
  if (m.maintainers?.length) {
    add(
      'org.opencontainers.image.authors',
      m.maintainers.map((x) => `${x.name ?? ''}${x.email ? ` (${x.email})` : ''}`).join(', '),
    );
  }
  for (const [k, v] of Object.entries(m.annotations ?? {})) {
    if (k === 'org.opencontainers.image.title' || k === 'org.opencontainers.image.version') continue;
    a[k] = v;
  }
  return a;
}

/** A chart version as an OCI tag: `+` is not allowed in tags, so Helm writes `_`. */
export function versionTag(version: string): string {
  return version.replace(/\+/g, '_');
}
