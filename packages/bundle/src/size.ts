import { AirlockError } from '@airlock/oci';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
};

/** The smallest part a split accepts (a tar block is 512 bytes; tiny parts are only for tests). */
export const MIN_SPLIT = 4 * 1024;

/**
 * `--split-size`: SI units as media are sold (4G = 4·10^9 fits FAT32's 4 GiB − 1 limit, 4.7G a
 * DVD, 25G a Blu-ray), or binary ones spelled out (GiB, MiB).
 */
export function parseSize(s: string, flag = '--split-size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(s);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new AirlockError('USAGE', `${flag} "${s}" is not a size`, { hint: 'write e.g. 4G (FAT32), 4.7G (DVD), 25G (Blu-ray), 700M or 2GiB' });
  }
  const n = Math.floor(Number(m[1]) * unit);
  if (n < MIN_SPLIT) throw new AirlockError('USAGE', `${flag} ${s} is smaller than the ${MIN_SPLIT / 1024} KiB minimum`);
  return n;
}
