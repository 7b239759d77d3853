import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { AirlockError, cleanArchivePath } from '@airlock/oci';

/**
 * A chart archive (`NAME-VERSION.tgz`) read into memory with Helm's limits: charts are small, and
 * Helm's own loader refuses more than 100 MiB uncompressed or 5 MiB in one file. Paths leaving the
 * archive are refused; links and devices are ignored (Helm does the same).
 */
export const MAX_CHART_BYTES = 100 * 1024 * 1024;
export const MAX_CHART_FILE_BYTES = 5 * 1024 * 1024;
/** A packed chart is smaller than its contents. */
export const MAX_TGZ_BYTES = MAX_CHART_BYTES;

export interface ChartFiles {
  /** The top directory every file sits under (the chart's name, by convention). */
  root: string;
  /** Files by path below the root (`Chart.yaml`, `templates/deployment.yaml`, `charts/sub.tgz`). */
  files: Map<string, Buffer>;
}

function chartError(what: string, msg: string, hint = 'a chart archive is a gzip tar with NAME/Chart.yaml at its root, as helm package writes it'): AirlockError {
  return new AirlockError('BAD_INPUT', `${what}: ${msg}`, { hint });
}

export async function readChartFiles(tgz: Buffer, what: string): Promise<ChartFiles> {
  if (tgz.length < 2 || tgz[0] !== 0x1f || tgz[1] !== 0x8b) throw chartError(what, 'not a gzip file');
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: MAX_CHART_BYTES });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') throw chartError(what, `uncompresses to more than ${MAX_CHART_BYTES} bytes`, 'Helm refuses charts this large too');
    throw chartError(what, `not valid gzip: ${(e as Error).message}`);
  }
  const files = new Map<string, Buffer>();
  let root: string | undefined;
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      let n = 0;
      let failed: AirlockError | undefined;
      stream.on('data', (data: unknown) => {
        const c = data as Buffer;
        n += c.length;
        if (n > MAX_CHART_FILE_BYTES) failed ??= chartError(what, `${header.name} is larger than ${MAX_CHART_FILE_BYTES} bytes`, 'Helm refuses chart files this large too');
        else chunks.push(c);
      });
      stream.on('end', () => {
        if (failed) return reject(failed);
        if (header.type !== 'file' && header.type !== 'contiguous-file') return next();
        const clean = cleanArchivePath(header.name);
        if (clean === undefined) return reject(chartError(what, `unsafe path "${header.name}" in the archive`, 'refusing a chart that writes outside its own directory'));
        const slash = clean.indexOf('/');
        if (slash < 0) return next(); // a stray top-level file (pax_global_header): Helm skips it too
        const top = clean.slice(0, slash);
        if (root === undefined) root = top;
        else if (top !== root) return reject(chartError(what, `files under both "${root}/" and "${top}/"`, 'a chart archive holds one top directory'));
        const rel = clean.slice(slash + 1);
        if (files.has(rel)) return reject(chartError(what, `duplicate file "${clean}"`));
        files.set(rel, Buffer.concat(chunks, n));
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', () => resolve());
    ex.on('error', (e: Error) => reject(chartError(what, `not a valid tar: ${e.message}`)));
  });
  Readable.from([tar]).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  if (root === undefined || !files.has('Chart.yaml')) throw chartError(what, 'no Chart.yaml in the archive');
  return { root, files };
}
