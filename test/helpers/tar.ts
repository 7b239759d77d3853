import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';

export interface TarSpec {
  name: string;
  data?: Buffer | string;
  type?: 'file' | 'symlink' | 'link' | 'directory';
  linkname?: string;
  mode?: number;
}

/** Pack entries exactly as given (hostile names included: this builds test inputs). */
export function tarBytes(entries: TarSpec[], opts: { gzip?: boolean } = {}): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    const data = e.data === undefined ? undefined : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const header = { name: e.name, type: e.type ?? 'file', mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644), mtime: new Date(0), ...(e.linkname ? { linkname: e.linkname } : {}) };
    // Links and directories have no body; a file without data is empty.
    if (header.type === 'file') p.entry(header, data ?? Buffer.alloc(0));
    else p.entry(header);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  const src: NodeJS.ReadableStream = opts.gzip ? (p as unknown as NodeJS.ReadableStream).pipe(createGzip()) : (p as unknown as NodeJS.ReadableStream);
  return new Promise((resolve, reject) => {
    src.on('data', (c: Buffer) => chunks.push(c));
    src.on('end', () => resolve(Buffer.concat(chunks)));
    src.on('error', reject);
  });
}

export async function writeTar(path: string, entries: TarSpec[], opts: { gzip?: boolean } = {}): Promise<void> {
  const bytes = await tarBytes(entries, opts);
  await pipeline(async function* () {
    yield bytes;
  }, createWriteStream(path));
}
