import { PassThrough, type Readable } from 'node:stream';

/** Observe bytes flowing through a stream without changing them (for progress). */
export function tap(src: Readable, onBytes: (n: number) => void): Readable {
  const out = new PassThrough({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
  src.on('error', (e) => out.destroy(e));
  return src.pipe(out);
}
