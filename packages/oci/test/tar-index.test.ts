import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeterministicTar, TarIndex } from '../src/index.js';
import { tarBytes } from '../../../test/helpers/tar.js';

const dir = () => mkdtempSync(path.join(tmpdir(), 'airlock-tarindex-'));
async function read(idx: TarIndex, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of idx.stream(idx.get(name))) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('TarIndex: a tar read by offset', () => {
  it('finds entries by name (long PAX names, ./ prefixes) and follows links inside the archive', async () => {
    const f = path.join(dir(), 'a.tar');
    const long = `${'d'.repeat(120)}/file.txt`;
    writeFileSync(
      f,
      await tarBytes([
        { name: './top.txt', data: 'top' },
        { name: long, data: 'long name' },
        { name: 'dir/', type: 'directory' },
        { name: 'dir/link', type: 'symlink', linkname: '../top.txt' },
        { name: 'dir/chain', type: 'symlink', linkname: 'link' },
        { name: 'hard', type: 'link', linkname: 'top.txt' },
      ]),
    );
    const idx = await TarIndex.open(f);
    expect(await read(idx, 'top.txt')).toBe('top');
    expect(await read(idx, long)).toBe('long name');
    expect(await read(idx, 'dir/chain')).toBe('top');
    expect(await read(idx, 'hard')).toBe('top');
    expect(idx.find('missing')).toBeUndefined();
    expect(() => idx.find('../x')).toThrowError(/unsafe path/);
  });

  it('refuses links that leave the archive and loops', async () => {
    const f = path.join(dir(), 'b.tar');
    writeFileSync(
      f,
      await tarBytes([
        { name: 'abs', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'a', type: 'symlink', linkname: 'b' },
        { name: 'b', type: 'symlink', linkname: 'a' },
        { name: 'hard', type: 'link', linkname: '../../etc/passwd' },
      ]),
    );
    const idx = await TarIndex.open(f);
    expect(() => idx.find('abs')).toThrowError(/outside the archive/);
    expect(() => idx.find('hard')).toThrowError(/outside the archive/);
    expect(() => idx.find('a')).toThrowError(/too many levels of links/);
  });

  it('DeterministicTar: same entries, same bytes; zeroed owners and times; a size mismatch fails', async () => {
    const d = dir();
    const write = async (name: string) => {
      const t = DeterministicTar.create(path.join(d, name));
      await t.addBytes('x.json', Buffer.from('{}'));
      const { Readable } = await import('node:stream');
      await t.addStream('blob', 5, Readable.from([Buffer.from('hel'), Buffer.from('lo')]));
      await t.finish();
      return readFileSync(path.join(d, name));
    };
    const a = await write('a.tar');
    const b = await write('b.tar');
    expect(a.equals(b)).toBe(true);
    const idx = await TarIndex.open(path.join(d, 'a.tar'));
    expect(idx.names()).toEqual(['x.json', 'blob']);
    expect(await read(idx, 'blob')).toBe('hello');
    // header of the first entry: mode 0644, uid/gid 0, mtime 0
    expect(a.subarray(100, 107).toString()).toBe('000644 ');
    expect(a.subarray(108, 115).toString()).toBe('000000 ');
    expect(a.subarray(136, 147).toString()).toBe('00000000000');
    const t = DeterministicTar.create(path.join(d, 'bad.tar'));
    const { Readable } = await import('node:stream');
    await expect(t.addStream('blob', 10, Readable.from([Buffer.from('short')]))).rejects.toThrow();
    await t.abort();
  });
});
