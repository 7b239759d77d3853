import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { parseYamlDocument } from '@airlock/step-kit/yaml';
import { AirlockError } from '@airlock/oci';

/**
 * `sync.yaml`: what to keep mirrored, validated before anything is contacted. Documented in
 * docs/sync.md; examples/sync.yaml is a complete example.
 */

const regexString = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression' },
);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name (the value itself never goes in this file)');
const platforms = z.array(z.string()).min(1);

const tagSelection = {
  tags: z.array(z.union([z.string(), z.number().transform(String)])).min(1).optional(),
  include: z.union([regexString, z.array(regexString).min(1)]).optional(),
  exclude: z.union([regexString, z.array(regexString).min(1)]).optional(),
  semver: z.string().optional(),
  prereleases: z.boolean().optional(),
  latest: z.number().int().positive().optional(),
};

const perEntry = {
  platforms: platforms.optional(),
  referrers: z.boolean().optional(),
};

const referenceEntry = z.object({ source: z.string(), destination: z.string().optional(), ...perEntry }).strict();
const repositoryEntry = z
  .object({
    repository: z.string(),
    /** Destination repository (no tag); default from defaults.to / defaults.rewrite. */
    destination: z.string().optional(),
    ...tagSelection,
    ...perEntry,
  })
  .strict()
  .refine((e) => e.tags || e.include || e.exclude || e.semver || e.latest, {
    message: 'a repository entry needs a tag selection: tags, include, exclude, semver or latest',
  });

const registrySettings = z
  .object({
    'username-env': envName.optional(),
    'password-env': envName.optional(),
    insecure: z.boolean().optional(),
    'ca-file': z.string().optional(),
    'requests-per-second': z.number().positive().optional(),
  })
  .strict()
  .refine((r) => !r['password-env'] || r['username-env'], { message: 'password-env needs username-env too' })
  .refine((r) => !r['username-env'] || r['password-env'], { message: 'username-env needs password-env too' });

export const syncConfigSchema = z
  .object({
    version: z.literal(1).optional(),
    defaults: z
      .object({
        to: z.string().optional(),
        rewrite: z.union([z.array(z.string()), z.record(z.string(), z.string())]).optional(),
        platforms: platforms.optional(),
        referrers: z.boolean().optional(),
        concurrency: z.number().int().min(1).max(256).optional(),
      })
      .strict()
      .optional(),
    registries: z.record(z.string(), registrySettings).optional(),
    images: z.array(z.union([z.string(), referenceEntry, repositoryEntry])).min(1),
  })
  .strict();

export type SyncConfig = z.infer<typeof syncConfigSchema>;
export type RepositoryEntry = z.infer<typeof repositoryEntry>;
export type ReferenceEntry = z.infer<typeof referenceEntry>;
export type RegistrySettings = z.infer<typeof registrySettings>;

export function parseSyncConfig(text: string, file: string): SyncConfig {
  return parseYamlDocument(text, syncConfigSchema, 'sync file', (msg) => new AirlockError('BAD_INPUT', `${file}: ${msg}`, { hint: 'see docs/sync.md or airlock sync --help for the format' }));
}

export async function readSyncConfig(file: string): Promise<SyncConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new AirlockError('BAD_INPUT', `cannot read sync file ${file}`, { hint: 'check the path given to --file' });
  }
  return parseSyncConfig(text, file);
}

export const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
