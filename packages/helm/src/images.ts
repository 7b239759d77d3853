import { parse as parseYaml } from 'yaml';
import { AirlockError, formatReference, parseReference } from '@airlock/oci';
import { readChartFiles } from './archive.js';
import { parseChartYaml } from './metadata.js';

/**
 * The container images a chart declares, without rendering it (no Helm, no cluster):
 * - `image:` values (and keys ending in `Image`) in values.yaml, subcharts' values and --values
 *   files: the string form (`nginx:1.27`) and the map form (`registry`/`repository`/`tag`/`digest`,
 *   `global.imageRegistry` honoured, a missing tag taken from the chart's appVersion, as most
 *   charts' templates do);
 * - the `helm.sh/images` (and `artifacthub.io/images`) annotation in Chart.yaml;
 * - literal `image:` lines in templates, where no template expression is involved.
 * Each image says where it was found. Values that only a render could resolve are listed apart.
 */

export interface ImageSource {
  /** `values.yaml`, `charts/redis/values.yaml`, `Chart.yaml`, `templates/job.yaml`, or a --values file. */
  file: string;
  /** Where in that file: a values path (`controller.image`), `annotations.helm.sh/images`, or `line 12`. */
  at: string;
  kind: 'values' | 'annotation' | 'template';
  /** e.g. "tag from appVersion". */
  note?: string;
}

export interface ChartImage {
  /** Normalised: `docker.io/library/nginx:1.27`. */
  reference: string;
  /** As the chart writes it (the first place found). */
  written: string;
  foundIn: ImageSource[];
}

export interface ChartImagesResult {
  chart: { name: string; version: string };
  images: ChartImage[];
  /** Image-like values that are not references as written (templated, empty, malformed). */
  unresolved: { value: string; source: ImageSource; reason: string }[];
}

type Values = Record<string, unknown>;
const isMap = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

function mergeValues(base: unknown, over: unknown): unknown {
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? mergeValues(out[k], v) : v;
  return out;
}

/** YAML values read with every scalar as written (`tag: 1.10` stays "1.10"). */
export function parseValues(text: string, what: string): Values {
  let doc: unknown;
  try {
    doc = parseYaml(text, { schema: 'failsafe', maxAliasCount: 1000 });
  } catch (e) {
    throw new AirlockError('BAD_INPUT', `${what}: not valid YAML: ${(e as Error).message.split('\n')[0]}`, { hint: 'fix the values file' });
  }
  return isMap(doc) ? doc : {};
}

const isImageKey = (k: string) => k === 'image' || /[a-z0-9]Image$/.test(k);

class Collector {
  readonly images = new Map<string, ChartImage>();
  readonly unresolved: ChartImagesResult['unresolved'] = [];

  add(written: string, source: ImageSource): void {
    const value = written.trim();
    if (value === '' || value.includes('{{')) {
      this.unresolved.push({ value, source, reason: value === '' ? 'empty' : 'needs rendering' });
      return;
    }
    let reference: string;
    try {
      reference = formatReference(parseReference(value, { defaultTag: false }));
    } catch {
      this.unresolved.push({ value, source, reason: 'not an image reference' });
      return;
    }
    const hit = this.images.get(reference);
    if (hit) hit.foundIn.push(source);
    else this.images.set(reference, { reference, written: value, foundIn: [source] });
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** Whether a values document sets anything at (or below) a path. */
function sets(doc: unknown, path: string[]): boolean {
  let cur = doc;
  for (const k of path) {
    if (Array.isArray(cur)) cur = cur[Number(k)];
    else if (isMap(cur)) cur = cur[k];
    else return false;
    if (cur === undefined) return false;
  }
  return true;
}

function walkValues(v: unknown, path: string[], fileFor: (p: string[]) => string, ctx: { appVersion?: string; globalRegistry?: string }, out: Collector): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => walkValues(x, [...path, String(i)], fileFor, ctx, out));
    return;
  }
  if (!isMap(v)) return;
  for (const [k, val] of Object.entries(v)) {
    const p = [...path, k];
    if (isImageKey(k) && typeof val === 'string') {
      out.add(val, { file: fileFor(p), at: p.join('.'), kind: 'values' });
      continue;
    }
    if (isImageKey(k) && isMap(val) && (str(val.repository) ?? str(val.name))) {
      const repository = (str(val.repository) ?? str(val.name))!;
      const registry = ctx.globalRegistry ?? str(val.registry);
      let tag = str(val.tag);
      const digest = str(val.digest);
      let note: string | undefined;
      if (!tag && !digest && ctx.appVersion) {
        tag = ctx.appVersion;
        note = 'tag from appVersion';
      }
      const written = `${registry ? `${registry}/` : ''}${repository}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
      out.add(written, { file: fileFor(p), at: p.join('.'), kind: 'values', ...(note ? { note } : {}) });
      continue;
    }
    walkValues(val, p, fileFor, ctx, out);
  }
}

const TEMPLATE_IMAGE = /^\s*(?:-\s*)?image:\s*(["']?)([^"'\s#]+)\1\s*(?:#.*)?$/;

async function scanChart(files: Map<string, Buffer>, prefix: string, userValues: unknown, out: Collector, depth: number): Promise<{ name: string; version: string }> {
  const meta = parseChartYaml(files.get('Chart.yaml')!.toString('utf8'), `${prefix}Chart.yaml`);
  // Annotations listing the chart's images (Artifact Hub's form: a YAML list of {name, image}).
  for (const key of ['helm.sh/images', 'artifacthub.io/images']) {
    const text = meta.annotations?.[key];
    if (!text) continue;
    let list: unknown;
    try {
      list = parseYaml(text, { schema: 'failsafe' });
    } catch {
      list = undefined;
    }
    const source: ImageSource = { file: `${prefix}Chart.yaml`, at: `annotations.${key}`, kind: 'annotation' };
    if (!Array.isArray(list)) {
      out.unresolved.push({ value: text.slice(0, 80), source, reason: 'not a YAML list' });
      continue;
    }
    for (const item of list) {
      const ref = typeof item === 'string' ? item : isMap(item) ? str(item.image) : undefined;
      if (ref) out.add(ref, source);
    }
  }
  const own = files.has('values.yaml') ? parseValues(files.get('values.yaml')!.toString('utf8'), `${prefix}values.yaml`) : {};
  const values = mergeValues(own, userValues) as Values;
  const globalRegistry = isMap(values.global) ? str(values.global.imageRegistry) : undefined;
  const ctx = { ...(meta.appVersion ? { appVersion: meta.appVersion } : {}), ...(globalRegistry ? { globalRegistry } : {}) };
  // The chart's defaults with --values (or a parent chart's values) on top; each image is
  // attributed to the file that set it.
  const userLabel = prefix ? 'values from the parent chart' : '(--values)';
  const subNames = new Set([...subchartNames(files), ...(meta.dependencies ?? []).map((d) => d.alias ?? d.name)]);
  const top = Object.fromEntries(Object.entries(values).filter(([k]) => !subNames.has(k)));
  walkValues(top, [], (p) => (sets(userValues, p) ? userLabel : `${prefix}values.yaml`), ctx, out);
  for (const [path, bytes] of files) {
    if (!path.startsWith('templates/') || path.endsWith('.tpl') || path.endsWith('.txt')) continue;
    bytes
      .toString('utf8')
      .split(/\r?\n/)
      .forEach((line, i) => {
        if (line.includes('{{')) return;
        const m = TEMPLATE_IMAGE.exec(line);
        if (m) out.add(m[2]!, { file: `${prefix}${path}`, at: `line ${i + 1}`, kind: 'template' });
      });
  }
  // Subcharts: packed (charts/NAME-VER.tgz) or unpacked (charts/NAME/…), with the parent's values
  // under the subchart's name (or alias) and the parent's `global`.
  if (depth < 5) {
    const aliasOf = new Map((meta.dependencies ?? []).map((d) => [d.name, d.alias ?? d.name]));
    const subValues = (name: string): Values => {
      const key = aliasOf.get(name) ?? name;
      const mine = isMap(values[key]) ? (values[key] as Values) : {};
      return isMap(values.global) ? (mergeValues({ global: values.global }, mine) as Values) : mine;
    };
    for (const [path, bytes] of files) {
      const packed = /^charts\/([^/]+)\.tgz$/.exec(path);
      if (packed) {
        const sub = await readChartFiles(bytes, `${prefix}${path}`);
        const subMeta = parseChartYaml(sub.files.get('Chart.yaml')!.toString('utf8'), `${prefix}${path}`);
        await scanChart(sub.files, `${prefix}charts/${sub.root}/`, nonEmpty(subValues(subMeta.name)), out, depth + 1);
      }
    }
    const unpacked = new Set([...files.keys()].map((p) => /^charts\/([^/]+)\/Chart\.yaml$/.exec(p)?.[1]).filter((x): x is string => !!x));
    for (const dir of unpacked) {
      const sub = new Map([...files].filter(([p]) => p.startsWith(`charts/${dir}/`)).map(([p, b]) => [p.slice(`charts/${dir}/`.length), b]));
      const subMeta = parseChartYaml(sub.get('Chart.yaml')!.toString('utf8'), `${prefix}charts/${dir}/Chart.yaml`);
      await scanChart(sub, `${prefix}charts/${dir}/`, nonEmpty(subValues(subMeta.name)), out, depth + 1);
    }
  }
  return { name: meta.name, version: meta.version };
}

const nonEmpty = (v: Values) => (Object.keys(v).length ? v : undefined);

/** Values keys meant for subcharts: reported where the subchart uses them, not twice. */
function subchartNames(files: Map<string, Buffer>): Set<string> {
  const names = new Set<string>();
  for (const p of files.keys()) {
    const m = /^charts\/([^/]+?)(?:-\d[^/]*)?(?:\.tgz|\/Chart\.yaml)$/.exec(p);
    if (m) names.add(m[1]!);
  }
  return names;
}

/** The images a packaged chart declares; `values` are --values documents, applied in order. */
export async function chartImages(tgz: Buffer, opts: { values?: { file: string; values: Values }[]; what?: string } = {}): Promise<ChartImagesResult> {
  const what = opts.what ?? 'chart';
  const { files } = await readChartFiles(tgz, what);
  const out = new Collector();
  let user: unknown;
  for (const v of opts.values ?? []) user = mergeValues(user ?? {}, v.values);
  const chart = await scanChart(files, '', user, out, 0);
  // User values are reported under their own file names.
  const files_ = (opts.values ?? []).map((v) => v.file).join(', ');
  const images = [...out.images.values()].map((img) => ({ ...img, foundIn: img.foundIn.map((s) => (s.file === '(--values)' ? { ...s, file: files_ } : s)) }));
  images.sort((a, b) => (a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0));
  return { chart, images, unresolved: out.unresolved.map((u) => (u.source.file === '(--values)' ? { ...u, source: { ...u.source, file: files_ } } : u)) };
}
