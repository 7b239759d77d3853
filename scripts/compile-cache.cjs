'use strict';
// Start-up of a dist bundle with a V8 code cache.
//
// A bundle is ~1-2 MB of JavaScript; parsing and compiling it is most of Airlock's start-up (a
// no-op mirror run is half start-up). Node 22 caches compiled code by itself
// (module.enableCompileCache); Node 20, which air-gapped runners still have, does not. So each
// bundle carries its program as a string and this loader compiles it with vm.Script and the V8
// code cache of an earlier run, kept per user in $TMPDIR/airlock-compile-cache-UID/.
// The program sits at the end of the file as line comments: Node then only scans it as comments
// (a 2 MB string literal costs more to parse than the code cache saves), and the loader reads it
// back from its own file.
//
// Safety: V8 does not checksum a code cache (a flipped bit crashes the process), so every cache
// file carries the SHA-256 of its bytes and is ignored unless it matches. The directory must be
// owned by the user and writable by nobody else, or it is not used. Files are written atomically
// (temp + rename). Any failure falls back to a plain compile: the cache only ever saves time.
//
// AIRLOCK_COMPILE_CACHE=DIR puts the cache in DIR; AIRLOCK_COMPILE_CACHE=off disables it.

const MARKER = '//@airlock-program';

/**
 * Compile and run the program at the end of `filename` (after the marker line, each line behind
 * `//`) as the CommonJS module `mod`. This function is embedded in each bundle with
 * Function.prototype.toString: it must stay self-contained (no closures over this file).
 */
function runBundle(marker, sourceHash, name, mod, req, filename) {
  const fs = req('node:fs');
  const os = req('node:os');
  const path = req('node:path');
  const vm = req('node:vm');
  const crypto = req('node:crypto');
  const MAGIC = Buffer.from('AIRLOCK-V8-CACHE-2\n');
  const sha256 = (data) => crypto.createHash('sha256').update(data).digest();

  // mkdir -p, bounded: Node 20's recursive mkdirSync loops forever where mkdir answers ENOENT
  // under an existing parent (/proc, /sys). Any trouble: false, and the start goes on uncached.
  function ensureDir(dir) {
    const missing = [];
    let cur = path.resolve(dir);
    for (let depth = 0; ; depth++) {
      if (depth > 32) return false;
      try {
        if (!fs.statSync(cur).isDirectory()) return false;
        break;
      } catch (e) {
        if (e.code !== 'ENOENT') return false;
      }
      missing.push(cur);
      const up = path.dirname(cur);
      if (up === cur) return false;
      cur = up;
    }
    for (const d of missing.reverse()) {
      try {
        fs.mkdirSync(d, { mode: 0o700 });
      } catch (e) {
        if (e.code !== 'EEXIST') return false;
      }
    }
    return true;
  }

  // The command this run executes (`mirror`, `verify`, ...; "default" for none): each command has
  // its own cache holding the functions its runs compile, so `--version` does not deserialize
  // mirror's code, nor mirror verify's (one cache shared by every command grew to their union,
  // and each start paid for all of them). At most MAX_COMMANDS caches per build and runtime.
  const word = process.argv.slice(2).find((a) => !a.startsWith('-'));
  const command = word && /^[a-z][a-z0-9-]{0,40}$/.test(word) ? word : 'default';
  const MAX_COMMANDS = 24;

  function cacheFile() {
    const setting = process.env.AIRLOCK_COMPILE_CACHE;
    if (setting && /^(off|0|false|no)$/i.test(setting)) return undefined;
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    const dir = setting || path.join(os.tmpdir(), `airlock-compile-cache-${uid ?? 'user'}`);
    if (!ensureDir(dir)) return undefined;
    const st = fs.lstatSync(dir);
    if (!st.isDirectory()) return undefined;
    // Someone else's or a shared writable directory could hand us code to run: not used.
    if (uid !== undefined && (st.uid !== uid || (st.mode & 0o022) !== 0)) return undefined;
    // V8 rejects a cache from another V8 version or other flags by itself; the key keeps caches
    // of different Node versions and flag sets side by side instead of overwriting each other. The
    // bundle's path is in the key too: V8 keeps the script name a cache was made with, so a copy of
    // the same build elsewhere would otherwise name the other file in its stack traces.
    const runtime = [process.version, process.arch, process.execArgv.join(' '), process.env.NODE_OPTIONS ?? ''].join('\n');
    const key = sha256(`${sourceHash}\n${runtime}\n${path.resolve(filename)}`).toString('hex').slice(0, 24);
    return path.join(dir, `${name}-${key}-${command}.bin`);
  }

  /** Whether this build and runtime may have one more command's cache. */
  function roomFor(file) {
    // NAME-KEY- (the name may hold hyphens, the command too; the key is 24 hex digits).
    const prefix = /^(.*-[0-9a-f]{24}-)[a-z][a-z0-9-]*\.bin$/.exec(path.basename(file))?.[1];
    if (!prefix) return false;
    try {
      return fs.readdirSync(path.dirname(file)).filter((f) => f.startsWith(prefix) && f.endsWith('.bin')).length < MAX_COMMANDS;
    } catch {
      return false;
    }
  }

  // File: MAGIC, SHA-256 of the rest, then "cmd,cmd,...\n" and V8's data.
  function readCache(file) {
    let data;
    try {
      // Only a regular file: reading a FIFO or a device planted there would block the start.
      if (!fs.lstatSync(file).isFile()) return undefined;
      data = fs.readFileSync(file);
    } catch {
      return undefined;
    }
    const start = MAGIC.length + 32;
    if (data.length <= start || !data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const rest = data.subarray(start);
    if (!sha256(rest).equals(data.subarray(MAGIC.length, start))) return undefined;
    const eol = rest.indexOf(10);
    if (eol < 0 || eol + 1 >= rest.length) return undefined;
    return { commands: rest.subarray(0, eol).toString().split(','), data: rest.subarray(eol + 1) };
  }

  function writeCache(file, script, commands) {
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      const rest = Buffer.concat([Buffer.from(`${commands.join(',')}\n`), script.createCachedData()]);
      fs.writeFileSync(tmp, Buffer.concat([MAGIC, sha256(rest), rest]), { mode: 0o600 });
      fs.renameSync(tmp, file);
    } catch {
      try {
        fs.unlinkSync(tmp);
      } catch {
        // nothing was written
      }
    }
    pruneCaches(file);
  }

  // Every build (and Node version) has its own file: when one is written, those of this bundle
  // not written for 30 days go (a cache still in use is simply written again).
  function pruneCaches(keep) {
    const dir = path.dirname(keep);
    const mine = new RegExp(`^${name}-[0-9a-f]{24}(-[a-z][a-z0-9-]*)?\\.bin(\\.\\d+\\.tmp)?$`);
    const cutoff = Date.now() - 30 * 24 * 3600 * 1000;
    try {
      for (const f of fs.readdirSync(dir)) {
        const p = path.join(dir, f);
        if (p !== keep && mine.test(f) && fs.lstatSync(p).mtimeMs < cutoff) fs.unlinkSync(p);
      }
    } catch {
      // best effort
    }
  }

  // A bundle carried on removable media may arrive damaged: say so in one line, no stack trace.
  const damaged = (why) => {
    process.stderr.write(`error: ${filename} is damaged (${why}); copy it again from the release\n`);
    process.exit(2);
  };
  // The program is ASCII (esbuild escapes everything else), so latin1 reads it exactly.
  const text = fs.readFileSync(filename, 'latin1');
  const at = text.indexOf(`\n${marker}\n`);
  if (at < 0) damaged('its program is missing');
  const source = text
    .slice(at + marker.length + 2)
    .split('\n')
    .map((line) => line.slice(2))
    .join('\n');
  if (crypto.createHash('sha256').update(source, 'latin1').digest('hex') !== sourceHash) damaged('its program does not match its SHA-256');

  // undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it twice: quickly
  // (Liftoff), then optimised (TurboFan) on background threads, which costs more CPU than a CLI
  // run's requests save (measured: 60 cold requests 147 -> 55 ms of CPU). Set before anything is
  // compiled, so the code cache is always made and used under the same flags.
  req('node:v8').setFlagsFromString('--liftoff-only');

  let file;
  try {
    file = cacheFile();
  } catch {
    file = undefined;
  }
  const cache = file ? readCache(file) : undefined;
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapper, { filename, cachedData: cache?.data });
  // Written at exit, so the functions this run compiled lazily are in the cache too.
  if (file && (!cache || script.cachedDataRejected) && (cache || roomFor(file))) process.once('exit', () => writeCache(file, script, [command]));
  script.runInThisContext().call(mod.exports, mod.exports, req, mod, filename, path.dirname(filename));
}

/** The text of a bundle file that runs `program` (esbuild's CommonJS output) through runBundle. */
function bundleText(name, program, note) {
  const crypto = require('node:crypto');
  // Line comments end at any line terminator, and latin1 must read the program back exactly.
  if (/[^\x00-\x7f]|[\r]/.test(program)) throw new Error(`${name}: the bundled program is not plain ASCII with \\n line ends`);
  const hash = crypto.createHash('sha256').update(program).digest('hex');
  return [
    '#!/usr/bin/env node',
    `// ${note}`,
    '// The program is the comment block at the end, compiled with a V8 code cache kept per user in',
    '// $TMPDIR/airlock-compile-cache-UID (AIRLOCK_COMPILE_CACHE=DIR to move it, =off to disable).',
    "'use strict';",
    `(${runBundle.toString()})(${JSON.stringify(MARKER)}, ${JSON.stringify(hash)}, ${JSON.stringify(name)}, module, require, __filename);`,
    MARKER,
    ...program.split('\n').map((line) => `//${line}`),
  ].join('\n');
}

module.exports = { runBundle, bundleText };
