// Leaner bundles, shared by every bundle Airlock ships (scripts/build.mjs, the action): start-up is
// most of a no-op run, and every CI job pays it. Measured on the 2-core machine of bench/README.md.
import path from 'node:path';

/**
 * Code the bundles carry but never run, left out so that every start parses less (a quarter of
 * airlock.cjs; start-up is most of a no-op run):
 * - zod's 40 message locales (262 KiB): Airlock speaks English, which zod loads by itself
 *   (`classic/external.js` imports `locales/en.js` directly); only `z.locales.*` would reach the
 *   others, and nothing here calls it. The locales index keeps exporting `en`.
 * - iconv-lite (483 KiB): an optional dependency of minipass-fetch (under tuf-js), loaded in a
 *   try/catch and used only by `Body.textConverted()`, which tuf-js never calls; without it
 *   minipass-fetch defers the error to that call.
 */
export const omitUnused = {
  name: 'airlock-omit-unused',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/]/.test(args.importer) ? { path: path.join(path.dirname(args.importer), '..', 'locales', 'index.js'), namespace: 'zod-en-only' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en-only' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(path.dirname(args.path), 'en.js'))};`,
      loader: 'js',
      resolveDir: path.dirname(args.path),
    }));
    // undici's HTTP/2 client (Airlock never enables allowH2) loads node:http2 when it is loaded;
    // behind this shim it loads on its first use instead.
    b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client\.js$/.test(args.importer) ? { path: path.join(path.dirname(args.importer), 'client-h2.js'), namespace: 'lazy-h2' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-h2' }, (args) => ({
      contents: `let real;\nmodule.exports = function connectH2(...args) {\n  real ??= require(${JSON.stringify(args.path)});\n  return real.apply(this, args);\n};\n`,
      loader: 'js',
      resolveDir: path.dirname(args.path),
    }));
    b.onResolve({ filter: /^iconv-lite$/ }, () => ({ path: 'iconv-lite', namespace: 'omitted' }));
    b.onLoad({ filter: /.*/, namespace: 'omitted' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not bundled with Airlock`)});`,
      loader: 'js',
    }));
  },
};

/** Built-in modules most runs never touch, loaded on their first use instead of at start. */
const LAZY_BUILTINS = ['child_process', 'zlib'];

const LAZY_HELPER =
  'var __airlockLazy=(id)=>{let m;const g=()=>m??=require(id);return new Proxy({},{get:(_,k)=>g()[k],has:(_,k)=>k in g(),' +
  'ownKeys:()=>Reflect.ownKeys(g()),getOwnPropertyDescriptor:(_,k)=>{const d=Object.getOwnPropertyDescriptor(g(),k);if(d)d.configurable=true;return d}})};\n';

/**
 * `require("node:child_process")` and `require("node:zlib")` in a bundle's output become a proxy
 * that loads the module when a property is first read: commander loads child_process for
 * executable subcommands Airlock does not have, credential helpers and hooks spawn only when
 * configured, and gzip is needed only for docker archives and charts. A module destructured at load
 * (`const { x } = require(...)`) still loads then; nothing changes for it.
 */
export function lazyBuiltins(program) {
  const names = LAZY_BUILTINS.flatMap((m) => [m, `node:${m}`]).map((m) => m.replace('/', '\\/'));
  const re = new RegExp(`\\brequire\\("(${names.join('|')})"\\)`, 'g');
  const out = program.replace(re, '__airlockLazy("$1")');
  if (out === program) return program;
  // After a leading "use strict" or shebang, before anything that could use it.
  const m = /^(#![^\n]*\n)?("use strict";)?/.exec(out);
  const head = m[0];
  return `${head}${LAZY_HELPER}${out.slice(head.length)}`;
}
