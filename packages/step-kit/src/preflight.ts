import { resolve } from 'node:path';
import { AirlockError, OciLayout, shorten, type Location, type TransferJob } from '@airlock/oci';
import { checkCredentialSources } from './connection.js';
import { checkOutputFiles, type OutputCheck } from './files.js';

/**
 * Everything about a run's inputs that can be checked before any work starts, so that a bad input
 * is one line and exit 2 with nothing written — never a failure at the end, after the work:
 * output files (--report, --junit), layouts to read (exist, are layouts, index.json intact) and to
 * write (not a file, writable), and the credential sources when a registry will be contacted.
 */
export async function preflight(o: { locations?: Location[]; sources?: Location[]; destinations?: Location[]; outputs?: Array<{ path: string | undefined } & OutputCheck>; env?: NodeJS.ProcessEnv }): Promise<void> {
  checkOutputFiles(o.outputs ?? []);
  const sources = [...(o.sources ?? [])];
  const destinations = [...(o.destinations ?? [])];
  const seen = new Set<string>();
  for (const loc of sources) {
    if (loc.kind !== 'layout') continue;
    const key = `${resolve(loc.dir)}|${loc.tag ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const layout = await OciLayout.openForRead(loc.dir);
    if (loc.tag === undefined) {
      const n = (await layout.index()).manifests.length;
      if (n !== 1) {
        const tags = (await layout.tags()).slice(0, 10);
        throw new AirlockError('USAGE', `${shorten(loc.input)}: the layout holds ${n === 0 ? 'no image' : `${n} images`}${n ? '; name one' : ''}`, {
          hint: n ? `write oci:${shorten(loc.dir, 100)}:TAG (tags: ${tags.join(', ') || 'none'})` : 'copy an image into it first',
        });
      }
    }
  }
  const written = new Set<string>();
  for (const loc of destinations) {
    if (loc.kind !== 'layout' || written.has(resolve(loc.dir))) continue;
    written.add(resolve(loc.dir));
    OciLayout.checkWritable(loc.dir);
  }
  if ([...sources, ...destinations, ...(o.locations ?? [])].some((l) => l.kind === 'registry')) checkCredentialSources(o.env);
}

/** preflight for copy/mirror jobs and their reports. */
export function preflightTransfers(jobs: TransferJob[], f: { report?: string; junit?: string }): Promise<void> {
  return preflight({
    sources: jobs.map((j) => j.source),
    destinations: jobs.map((j) => j.destination),
    outputs: [
      { path: f.report, flag: '--report', createParents: true },
      { path: f.junit, flag: '--junit', createParents: true },
    ],
  });
}
