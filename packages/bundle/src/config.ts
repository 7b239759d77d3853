import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { AirlockError } from '@airlock/oci';
import { imageListYamlSchema } from '@airlock/step-kit/image-list';
import { parseYamlDocument } from '@airlock/step-kit/yaml';

/**
 * airlock.yaml: what `bundle create` puts in. `images:` takes exactly the entries of a mirror
 * list; `files:` local files or directories; `charts:` Helm charts (fetched by a ChartSource).
 */

const imageEntry = imageListYamlSchema.shape.images.element;

const fileEntry = z.union([
  z.string(),
  z.object({
    path: z.string().min(1),
    /** The name the file carries in the bundle (default: its base name). */
    name: z.string().min(1).optional(),
  }).strict(),
]);

/** One chart: from an HTTP chart repository, an OCI registry, or a local .tgz (exactly one). */
export const chartSpecSchema = z
  .object({
    repo: z.string().regex(/^https?:\/\//, 'a chart repository URL (https://…)').optional(),
    oci: z.string().regex(/^oci:\/\//, 'an oci://HOST/PATH/NAME:VERSION reference').optional(),
    file: z.string().min(1).optional(),
    name: z.string().min(1).optional(),
    /** An exact version or a semver range (repo charts). */
    version: z.string().min(1).optional(),
    'images-from-chart': z.boolean().optional(),
    /** Values files for images-from-chart (relative to airlock.yaml). */
    values: z.array(z.string()).optional(),
  })
  .strict()
  .refine((c) => [c.repo, c.oci, c.file].filter(Boolean).length === 1, 'give exactly one of repo:, oci: or file:')
  .refine((c) => !c.repo || (c.name && c.version), 'a repo: chart needs name: and version:');
export type ChartSpec = z.infer<typeof chartSpecSchema>;

export const bundleConfigSchema = z
  .object({
    images: z.array(imageEntry).optional(),
    files: z.array(fileEntry).optional(),
    charts: z.array(chartSpecSchema).optional(),
  })
  .strict()
  .refine((c) => (c.images?.length ?? 0) + (c.files?.length ?? 0) + (c.charts?.length ?? 0) > 0, 'list at least one image, file or chart');

export interface BundleConfig {
  file: string;
  images: { source: string; destination?: string; platforms?: string[]; where: string }[];
  files: { path: string; name: string; where: string }[];
  charts: (ChartSpec & { where: string })[];
}

export function parseBundleConfig(text: string, file: string): BundleConfig {
  const doc = parseYamlDocument(text, bundleConfigSchema, 'airlock.yaml', (msg) => new AirlockError('BAD_INPUT', `${file}: ${msg}`, { hint: 'see airlock bundle create --help and docs/bundle-format.md' }));
  const base = dirname(resolve(file));
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const config: BundleConfig = {
    file,
    images: (doc.images ?? []).map((e, n) => {
      const where = `${file} images.${n}`;
      if (typeof e === 'string') return { source: e.startsWith('oci:') ? `oci:${rel(e.slice(4))}` : e, where };
      return { ...e, source: e.source.startsWith('oci:') ? `oci:${rel(e.source.slice(4))}` : e.source, where };
    }),
    files: (doc.files ?? []).map((e, n) => {
      const path = typeof e === 'string' ? e : e.path;
      const name = (typeof e === 'string' ? undefined : e.name) ?? path.replace(/\/+$/, '').split('/').pop()!;
      return { path: rel(path), name, where: `${file} files.${n}` };
    }),
    charts: (doc.charts ?? []).map((c, n) => ({ ...c, ...(c.file ? { file: rel(c.file) } : {}), ...(c.values ? { values: c.values.map(rel) } : {}), where: `${file} charts.${n}` })),
  };
  const names = new Map<string, string>();
  for (const f of config.files) {
    const other = names.get(f.name);
    if (other) throw new AirlockError('BAD_INPUT', `${f.where}: the name ${f.name} is already taken by ${other}`, { hint: 'give name: to tell the files apart' });
    names.set(f.name, f.where);
  }
  return config;
}

export async function readBundleConfig(file: string): Promise<BundleConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new AirlockError('BAD_INPUT', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: 'check the path given to -f/--file' });
  }
  return parseBundleConfig(text, file);
}
