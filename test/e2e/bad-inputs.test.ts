import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { makeServerTls } from '../helpers/certs.js';
import { freePort } from '../helpers/net.js';
import { makeTempDir } from '../helpers/tmp.js';

/**
 * The bad-input corpus: every step, every kind of input (references, transports, layouts, lists,
 * numbers, files and directories, keys, certificates, policies, credentials, TLS options). Each case
 * runs the built bundle and must give exactly one `error:` line (and at most one `hint:` line)
 * naming the input, the documented exit code (2), no stack trace, nothing on stdout, and nothing
 * written anywhere: the case's own directory (its cwd and destinations) and the shared fixtures are
 * compared before and after. Registry references point at a closed loopback port: no case may
 * reach a registry, let alone the internet.
 */

// Secrets present in every case's environment: no output may ever repeat them.
const REGISTRY_PASSWORD = 'reg-S3cret-never-printed-7731';
const COSIGN_PASSWORD = 'cosign-S3cret-never-printed-1187';

interface Fixtures {
  dir: string;
  /** A registry reference on a closed loopback port. */
  ref: string;
  host: string;
  key: string;
  pub: string;
  plainKey: string;
  cert: string;
  garbage: string;
  empty: string;
  emptyDir: string;
  layout: string;
  file: (name: string, text: string) => string;
}

interface Case {
  name: string;
  args: (f: Fixtures, out: string) => string[];
  /** The error line must match (it names the input and says what is wrong). */
  error: RegExp;
  code?: number;
  env?: (f: Fixtures) => NodeJS.ProcessEnv;
  bundle?: string;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A one-image OCI layout (config, one layer, manifest) written by hand. */
function writeLayout(dir: string, tag = 'v1'): void {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = (b: Buffer) => {
    writeFileSync(path.join(dir, 'blobs', 'sha256', sha(b)), b);
    return { digest: `sha256:${sha(b)}`, size: b.length };
  };
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })));
  const layer = blob(Buffer.from('layer'));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
    }),
  );
  const m = blob(manifest);
  writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
}

/** Every path under `dir` with its size and mtime: what a case must leave exactly as it was. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = statSync(p);
      out.push(`${path.relative(dir, p)} ${st.isDirectory() ? 'dir' : `${st.size} ${st.mtimeMs}`}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

const list = (f: Fixtures, name: string, lines: string[]) => f.file(name, `${lines.join('\n')}\n`);

const cases: Case[] = [
  // --- copy: references and transports
  { name: 'copy: malformed reference', args: (f, o) => ['copy', 'Not A Ref', `oci:${o}`], error: /invalid image reference "Not A Ref"/ },
  { name: 'copy: empty source', args: (f, o) => ['copy', '', `oci:${o}`], error: /invalid image reference "": it is empty/ },
  { name: 'copy: host:port without a repository', args: (f, o) => ['copy', f.host, `oci:${o}`], error: /invalid image reference "127\.0\.0\.1:\d+": the repository is missing/ },
  { name: 'copy: host without a repository as destination', args: (f) => ['copy', f.ref, 'registry.local'], error: /"registry\.local": the repository is missing/ },
  { name: 'copy: host:port/ with an empty repository', args: (f, o) => ['copy', `${f.host}/`, `oci:${o}`], error: /the repository is missing/ },
  { name: 'copy: uppercase repository', args: (f, o) => ['copy', `${f.host}/Team/App:1`, `oci:${o}`], error: /"Team\/App" is not a valid repository/ },
  { name: 'copy: bad tag', args: (f, o) => ['copy', `${f.host}/team/app:bad!tag`, `oci:${o}`], error: /"bad!tag" is not a valid tag/ },
  { name: 'copy: bad digest', args: (f, o) => ['copy', `${f.host}/team/app@sha256:short`, `oci:${o}`], error: /"sha256:short" is not a sha256\/sha512 digest/ },
  { name: 'copy: bad registry host', args: (f, o) => ['copy', 'bad_host.example:99999999/a/b:1', `oci:${o}`], error: /is not a valid registry host/ },
  { name: 'copy: unsupported transport', args: (f, o) => ['copy', 'oci-archive:/tmp/x.tar', `oci:${o}`], error: /unsupported transport in "oci-archive:\/tmp\/x\.tar"/ },
  { name: 'copy: oci: without a directory', args: (f) => ['copy', 'oci:', f.ref], error: /invalid OCI layout "oci:": the directory is missing/ },
  { name: 'copy: oci: with a bad tag', args: (f) => ['copy', `oci:${f.layout}:bad!tag`, f.ref], error: /"bad!tag" is not a valid tag/ },
  { name: 'copy: docker:// with nothing after it', args: (f, o) => ['copy', 'docker://', `oci:${o}`], error: /invalid image reference "": it is empty/ },
  { name: 'copy: a 10 MB reference is not echoed whole', args: (f, o) => ['copy', `${'x'.repeat(100_000)}`, `oci:${o}`], error: /invalid image reference "x{200}…" \(100000 characters\)/ },
  // --- copy: usage
  { name: 'copy: missing DST', args: (f) => ['copy', f.ref], error: /missing required argument 'DST'/ },
  { name: 'copy: unknown option', args: (f, o) => ['copy', '--frobnicate', f.ref, `oci:${o}`], error: /unknown option '--frobnicate'/ },
  { name: 'copy: too many arguments', args: (f, o) => ['copy', f.ref, `oci:${o}`, 'extra'], error: /too many arguments/ },
  // --- numbers
  { name: '--concurrency abc', args: (f, o) => ['copy', '--concurrency', 'abc', f.ref, `oci:${o}`], error: /--concurrency takes a whole number from 1 to 256, got "abc"/ },
  { name: '--concurrency -1', args: (f, o) => ['copy', '--concurrency', '-1', f.ref, `oci:${o}`], error: /--concurrency takes a whole number from 1 to 256, got "-1"/ },
  { name: '--concurrency 0', args: (f, o) => ['copy', '--concurrency', '0', f.ref, `oci:${o}`], error: /--concurrency .* got "0"/ },
  { name: '--concurrency 1000', args: (f, o) => ['copy', '--concurrency', '1000', f.ref, `oci:${o}`], error: /--concurrency .* got "1000"/ },
  { name: '--concurrency 2.5', args: (f, o) => ['copy', '--concurrency', '2.5', f.ref, `oci:${o}`], error: /--concurrency .* got "2\.5"/ },
  { name: '--retries -1', args: (f, o) => ['copy', '--retries', '-1', f.ref, `oci:${o}`], error: /--retries takes a whole number from 0 to 100, got "-1"/ },
  { name: '--retries abc', args: (f, o) => ['copy', '--retries', 'abc', f.ref, `oci:${o}`], error: /--retries .* got "abc"/ },
  { name: '--retries 1e9', args: (f, o) => ['copy', '--retries', '1e9', f.ref, `oci:${o}`], error: /--retries .* got "1e9"/ },
  { name: '--retries 101', args: (f, o) => ['copy', '--retries', '101', f.ref, `oci:${o}`], error: /--retries .* got "101"/ },
  { name: '--chunk-size -5', args: (f, o) => ['copy', '--chunk-size', '-5', f.ref, `oci:${o}`], error: /--chunk-size takes a whole number from 1024 to \d+, got "-5"/ },
  { name: '--chunk-size 100', args: (f, o) => ['copy', '--chunk-size', '100', f.ref, `oci:${o}`], error: /--chunk-size .* got "100"/ },
  { name: '--chunk-size 0x400', args: (f, o) => ['copy', '--chunk-size', '0x400', f.ref, `oci:${o}`], error: /--chunk-size .* got "0x400"/ },
  { name: 'sign --retries -1', args: (f) => ['sign', '--key', f.key, '--retries', '-1', f.ref], error: /--retries .* got "-1"/ },
  { name: '--platform linux', args: (f, o) => ['copy', '--platform', 'linux', f.ref, `oci:${o}`], error: /invalid platform "linux"/ },
  { name: '--platform with 4 parts', args: (f, o) => ['copy', '--platform', 'linux/arm/v7/x', f.ref, `oci:${o}`], error: /invalid platform "linux\/arm\/v7\/x"/ },
  // --- layouts
  { name: 'copy: missing oci: directory', args: (f) => ['copy', `oci:${path.join(f.dir, 'nope')}:v1`, f.ref], error: /OCI layout .*nope: does not exist/ },
  { name: 'copy: a regular file as oci: source', args: (f) => ['copy', `oci:${f.garbage}`, f.ref], error: /OCI layout .*garbage\.txt: is not a directory/ },
  { name: 'copy: an empty directory as oci: source', args: (f) => ['copy', `oci:${f.emptyDir}`, f.ref], error: /not an OCI image layout \(no oci-layout file\)/ },
  { name: 'copy: truncated index.json', args: (f) => ['copy', `oci:${path.join(f.dir, 'truncated')}:v1`, f.ref], error: /truncated: index\.json is not valid JSON \(truncated\?\)/ },
  { name: 'copy: index.json that is not an index', args: (f) => ['copy', `oci:${path.join(f.dir, 'wrong-index')}:v1`, f.ref], error: /wrong-index: index\.json is not an OCI image index/ },
  { name: 'copy: malformed oci-layout', args: (f) => ['copy', `oci:${path.join(f.dir, 'bad-oci-layout')}:v1`, f.ref], error: /bad-oci-layout: oci-layout is malformed/ },
  { name: 'copy: layout without index.json', args: (f) => ['copy', `oci:${path.join(f.dir, 'no-index')}:v1`, f.ref], error: /no-index: has no index\.json/ },
  { name: 'copy: layout with two images and no tag', args: (f) => ['copy', `oci:${path.join(f.dir, 'two-images')}`, f.ref], error: /the layout holds 2 images; name one/ },
  { name: 'copy: a regular file as oci: destination', args: (f) => ['copy', f.ref, `oci:${f.garbage}`], error: /OCI layout .*garbage\.txt: is a file, not a directory/ },
  { name: 'copy: oci: destination under a regular file', args: (f) => ['copy', f.ref, `oci:${f.garbage}/sub`], error: /garbage\.txt is not a directory/ },
  { name: 'copy: damaged destination layout', args: (f) => ['copy', `oci:${f.layout}:v1`, `oci:${path.join(f.dir, 'truncated')}:v2`], error: /truncated: index\.json is not valid JSON/ },
  // --- output files
  { name: 'copy: --report is a directory', args: (f, o) => ['copy', '--report', f.emptyDir, f.ref, `oci:${o}`], error: /--report .*empty-dir: is a directory/ },
  { name: 'copy: --junit is a directory', args: (f, o) => ['copy', '--junit', f.emptyDir, f.ref, `oci:${o}`], error: /--junit .*empty-dir: is a directory/ },
  { name: 'copy: --report under a regular file', args: (f, o) => ['copy', '--report', `${f.garbage}/r.json`, f.ref, `oci:${o}`], error: /--report .*garbage\.txt is not a directory/ },
  { name: 'copy: --report and --junit the same file', args: (f, o) => ['copy', '--report', `${o}.out`, '--junit', `${o}.out`, f.ref, `oci:${o}`], error: /--report and --junit name the same file/ },
  { name: 'mirror: --junit is a directory', args: (f) => ['mirror', '-f', list(f, 'ok.txt', [`${f.ref} ${f.host}/x/y:1`]), '--junit', f.emptyDir], error: /--junit .*: is a directory/ },
  // --- TLS options
  { name: '--ca-file missing', args: (f, o) => ['copy', '--ca-file', path.join(f.dir, 'nope.crt'), f.ref, `oci:${o}`], error: /cannot read --ca-file .*nope\.crt: ENOENT/ },
  { name: '--ca-file garbage', args: (f, o) => ['copy', '--ca-file', f.garbage, f.ref, `oci:${o}`], error: /--ca-file .*garbage\.txt holds no PEM certificate/ },
  { name: '--ca-file a damaged PEM', args: (f, o) => ['copy', '--ca-file', f.file('damaged.crt', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), f.ref, `oci:${o}`], error: /--ca-file .*damaged\.crt: a certificate in it cannot be read/ },
  { name: '--ca-file a directory', args: (f, o) => ['copy', '--ca-file', f.emptyDir, f.ref, `oci:${o}`], error: /cannot read --ca-file .*: it is a directory/ },
  { name: '--certs-dir missing', args: (f, o) => ['copy', '--certs-dir', path.join(f.dir, 'nope.d'), f.ref, `oci:${o}`], error: /--certs-dir .*nope\.d does not exist/ },
  { name: '--certs-dir a file', args: (f, o) => ['copy', '--certs-dir', f.garbage, f.ref, `oci:${o}`], error: /--certs-dir .*garbage\.txt is not a directory/ },
  { name: '--insecure-registry with a scheme and a space', args: (f, o) => ['copy', '--insecure-registry', 'http://bad host', f.ref, `oci:${o}`], error: /--insecure-registry "http:\/\/bad host" is not a registry host/ },
  { name: '--insecure-registry with a scheme', args: (f, o) => ['copy', '--insecure-registry', 'https://reg.local:5000/', f.ref, `oci:${o}`], error: /--insecure-registry "https:\/\/reg\.local:5000\/" is not a registry host/ },
  { name: 'verify --ca-file garbage', args: (f) => ['verify', '--key', f.pub, '--ca-file', f.garbage, f.ref], error: /--ca-file .*holds no PEM certificate/ },
  // --- credentials
  { name: 'DOCKER_AUTH_CONFIG not JSON', args: (f, o) => ['copy', f.ref, `oci:${o}`], env: () => ({ DOCKER_AUTH_CONFIG: `{"auths": ${REGISTRY_PASSWORD}` }), error: /the DOCKER_AUTH_CONFIG variable is not valid JSON/ },
  { name: 'DOCKER_AUTH_CONFIG not a docker config', args: (f, o) => ['copy', f.ref, `oci:${o}`], env: () => ({ DOCKER_AUTH_CONFIG: `{"auths": {"x.io": {"auth": 5, "password": "${REGISTRY_PASSWORD}"}}}` }), error: /the DOCKER_AUTH_CONFIG variable is not a docker config\.json at auths\.x\.io\.auth/ },
  { name: 'DOCKER_AUTH_CONFIG with a malformed auth', args: (f, o) => ['copy', f.ref, `oci:${o}`], env: () => ({ DOCKER_AUTH_CONFIG: `{"auths": {"x.io": {"auth": "${Buffer.from(REGISTRY_PASSWORD).toString('base64')}"}}}` }), error: /malformed "auth" entry in the DOCKER_AUTH_CONFIG variable/ },
  { name: 'docker config.json garbage', args: (f, o) => ['copy', f.ref, `oci:${o}`], env: (f) => ({ DOCKER_CONFIG: path.join(f.dir, 'docker-garbage') }), error: /docker config\.json .*docker-garbage\/config\.json is not valid JSON/ },
  { name: 'REGISTRY_AUTH_FILE garbage', args: (f) => ['verify', '--key', f.pub, f.ref], env: (f) => ({ REGISTRY_AUTH_FILE: f.garbage }), error: /containers auth\.json .*garbage\.txt is not valid JSON/ },
  { name: 'sign with DOCKER_AUTH_CONFIG garbage', args: (f) => ['sign', '--key', f.key, f.ref], env: () => ({ DOCKER_AUTH_CONFIG: 'nope' }), error: /the DOCKER_AUTH_CONFIG variable is not valid JSON/ },
  // --- mirror lists
  { name: 'mirror: no --file', args: () => ['mirror', '--to', 'r.local'], error: /mirror needs --file LIST/ },
  { name: 'mirror: missing list', args: (f) => ['mirror', '-f', path.join(f.dir, 'nope.txt'), '--to', 'r.local'], error: /cannot read image list .*nope\.txt: it does not exist/ },
  { name: 'mirror: list is a directory', args: (f) => ['mirror', '-f', f.emptyDir, '--to', 'r.local'], error: /cannot read image list .*: it is a directory/ },
  { name: 'mirror: three fields on a line', args: (f) => ['mirror', '-f', list(f, 'three.txt', ['a/b:1 c/d:1 e']), '--to', 'r.local'], error: /three\.txt: line 1: expected "SOURCE \[DESTINATION\]", found 3 fields/ },
  { name: 'mirror: empty list', args: (f) => ['mirror', '-f', list(f, 'empty.txt', ['# nothing']), '--to', 'r.local'], error: /empty\.txt: the list names no images/ },
  { name: 'mirror: a 10 MB line', args: (f) => ['mirror', '-f', list(f, 'huge.txt', [`${'a'.repeat(10 * 1024 * 1024)}:1`]), '--to', 'r.local'], error: /huge\.txt line 1: invalid image reference "a{200}…" \(\d+ characters\)/ },
  { name: 'mirror: bad reference on a line', args: (f) => ['mirror', '-f', list(f, 'badref.txt', [`${f.ref}`, 'UPPER/case:1']), '--to', 'r.local'], error: /badref\.txt line 2: invalid image reference "UPPER\/case:1"/ },
  { name: 'mirror: host alone on a line', args: (f) => ['mirror', '-f', list(f, 'hostonly.txt', [f.host]), '--to', 'r.local'], error: /hostonly\.txt line 1: .*the repository is missing/ },
  { name: 'mirror: invalid YAML', args: (f) => ['mirror', '-f', f.file('bad.yaml', 'images: [\n'), '--to', 'r.local'], error: /bad\.yaml: not valid YAML/ },
  { name: 'mirror: YAML of the wrong shape', args: (f) => ['mirror', '-f', f.file('shape.yaml', 'images:\n  - source: a/b:1\n    bogus: 1\n'), '--to', 'r.local'], error: /shape\.yaml: invalid list at images\.0/ },
  { name: 'mirror: bad platform in a YAML entry', args: (f) => ['mirror', '-f', f.file('plat.yaml', `images:\n  - source: ${f.ref}\n    platforms: [linux]\n`), '--to', 'r.local'], error: /plat\.yaml entry 1: invalid platform "linux"/ },
  { name: 'mirror: no destination (location named once)', args: (f) => ['mirror', '-f', list(f, 'nodest.txt', [f.ref])], error: /^error: [^ ]*nodest\.txt line 1: no destination for "127\.0\.0\.1:\d+\/team\/app:1"$/ },
  { name: 'mirror: layout source without destination', args: (f) => ['mirror', '-f', list(f, 'layoutsrc.txt', [`oci:${f.layout}:v1`]), '--to', 'r.local'], error: /layoutsrc\.txt line 1: a layout source without an image name needs an explicit destination/ },
  { name: 'mirror: two lines, one destination', args: (f) => ['mirror', '-f', list(f, 'dup.txt', [`${f.ref} ${f.host}/x/app:1`, `${f.host}/other/app:1 ${f.host}/x/app:1`])], error: /dup\.txt line 1 and line 2 both write 127\.0\.0\.1:\d+\/x\/app:1/ },
  { name: 'mirror: two lines, one destination via --to', args: (f) => ['mirror', '-f', list(f, 'dupto.txt', [`${f.host}/a/app:1`, `${f.host.replace('127.0.0.1', 'localhost')}/a/app:1`]), '--to', 'r.local'], error: /dupto\.txt line 1 and line 2 both write r\.local\/a\/app:1/ },
  { name: 'mirror: bad --rewrite', args: (f) => ['mirror', '-f', list(f, 'rw.txt', [f.ref]), '--rewrite', 'nothing'], error: /invalid --rewrite "nothing": expected OLD=NEW/ },
  { name: 'mirror: missing layout source', args: (f) => ['mirror', '-f', list(f, 'misslayout.txt', [`oci:${path.join(f.dir, 'nope')}:v1 ${f.host}/x/y:1`])], error: /OCI layout .*nope: does not exist/ },
  { name: 'mirror standalone bundle: --retries abc', bundle: 'mirror.cjs', args: (f) => ['-f', list(f, 'm.txt', [f.ref]), '--retries', 'abc'], error: /--retries .* got "abc"/ },
  { name: 'copy standalone bundle: host alone', bundle: 'copy.cjs', args: (f, o) => [f.host, `oci:${o}`], error: /the repository is missing/ },
  // --- key
  { name: 'key generate: no password', args: () => ['key', 'generate'], env: () => ({ COSIGN_PASSWORD: undefined }), error: /no key password given/ },
  { name: 'key generate: prefix in a missing directory', args: (f) => ['key', 'generate', '--output-key-prefix', path.join(f.dir, 'missing', 'dir', 'k')], error: /--output-key-prefix .*missing\/dir\/k\.key: the directory .*missing\/dir does not exist/ },
  { name: 'key generate: prefix under a regular file', args: (f) => ['key', 'generate', '--output-key-prefix', `${f.garbage}/k`], error: /--output-key-prefix .*garbage\.txt is not a directory/ },
  { name: 'key generate: existing key', args: (f) => ['key', 'generate', '--output-key-prefix', f.key.replace(/\.key$/, '')], error: /cosign\.key already exists/ },
  { name: 'key generate: prefix naming a directory', args: (f) => ['key', 'generate', '--output-key-prefix', `${f.emptyDir}/`], error: /--output-key-prefix ".*empty-dir\/" names no file/ },
  { name: 'key generate: missing password file', args: (f) => ['key', 'generate', '--password-file', path.join(f.dir, 'nope.pw')], error: /cannot read password file .*nope\.pw/ },
  { name: 'key import: no --key', args: () => ['key', 'import'], error: /key import needs --key FILE/ },
  { name: 'key import: missing key', args: (f) => ['key', 'import', '--key', path.join(f.dir, 'nope.pem')], error: /cannot read .*nope\.pem/ },
  { name: 'key import: garbage', args: (f) => ['key', 'import', '--key', f.garbage], error: /garbage\.txt: private key is not PEM-encoded/ },
  { name: 'key import: a public key', args: (f) => ['key', 'import', '--key', f.pub], error: /cosign\.pub is a public key, not a private key/ },
  { name: 'key import: a cosign key', args: (f) => ['key', 'import', '--key', f.key], error: /cosign\.key is already a cosign key/ },
  // --- sign, attest, attach sbom
  { name: 'sign: a public key as --key', args: (f) => ['sign', '--key', f.pub, f.ref], error: /key .*cosign\.pub is a public key, not a cosign private key/ },
  { name: 'sign: a plain PEM key as --key', args: (f) => ['sign', '--key', f.plainKey, f.ref], error: /plain\.pem is a plain PEM private key.*/ },
  { name: 'sign: a certificate as --key', args: (f) => ['sign', '--key', f.cert, f.ref], error: /ca\.crt is a certificate, not a cosign private key/ },
  { name: 'sign: garbage key', args: (f) => ['sign', '--key', f.garbage, f.ref], error: /key .*garbage\.txt: cosign private key is not PEM-encoded/ },
  { name: 'sign: missing key', args: (f) => ['sign', '--key', path.join(f.dir, 'nope.key'), f.ref], error: /cannot read key file .*nope\.key/ },
  { name: 'sign: wrong password', args: (f) => ['sign', '--key', f.key, f.ref], env: () => ({ COSIGN_PASSWORD: 'wrong' }), error: /cosign\.key: .*password/i },
  { name: 'sign: no key', args: (f) => ['sign', f.ref], error: /no signing key/ },
  { name: 'sign: --key and --keyless', args: (f) => ['sign', '--key', f.key, '--keyless', f.ref], error: /--key and --keyless exclude each other/ },
  { name: 'sign: --format bogus', args: (f) => ['sign', '--key', f.key, '--format', 'bogus', f.ref], error: /--format must be legacy or bundle, got "bogus"/ },
  { name: 'sign: bad annotation', args: (f) => ['sign', '--key', f.key, '-a', 'novalue', f.ref], error: /invalid annotation "novalue"/ },
  { name: 'sign: bad reference', args: (f) => ['sign', '--key', f.key, 'Bad Ref'], error: /invalid image reference "Bad Ref"/ },
  { name: 'sign: host alone', args: (f) => ['sign', '--key', f.key, f.host], error: /the repository is missing/ },
  { name: 'sign: missing layout', args: (f) => ['sign', '--key', f.key, '--identity', 'r.local/a', `oci:${path.join(f.dir, 'nope')}:v1`], error: /OCI layout .*nope: does not exist/ },
  { name: 'sign: raw identity token', args: (f) => ['sign', '--keyless', '--identity-token', 'eyJraw.token', f.ref], error: /--identity-token takes @FILE or env:NAME, not the token itself/ },
  { name: 'sign: --report is a directory', args: (f) => ['sign', '--key', f.key, '--report', f.emptyDir, f.ref], error: /--report .*: is a directory/ },
  { name: 'sign: --insecure-registry bad', args: (f) => ['sign', '--key', f.key, '--insecure-registry', 'a b', f.ref], error: /--insecure-registry "a b" is not a registry host/ },
  { name: 'attest: missing predicate', args: (f) => ['attest', '--key', f.key, '--predicate', path.join(f.dir, 'nope.json'), f.ref], error: /cannot read predicate file .*nope\.json/ },
  { name: 'attest: unknown --type', args: (f) => ['attest', '--key', f.key, '--type', 'bogus', '--predicate', f.garbage, f.ref], error: /--type: invalid predicate type: bogus/ },
  { name: 'attest: predicate not JSON', args: (f) => ['attest', '--key', f.key, '--type', 'slsaprovenance', '--predicate', f.garbage, f.ref], error: /--predicate .*garbage\.txt: the predicate for type slsaprovenance is not valid JSON/ },
  { name: 'attest: no --predicate', args: (f) => ['attest', '--key', f.key, f.ref], error: /attest needs --predicate FILE/ },
  { name: 'attach sbom: missing SBOM', args: (f) => ['attach', 'sbom', '--sbom', path.join(f.dir, 'nope.spdx'), f.ref], error: /cannot read SBOM .*nope\.spdx/ },
  { name: 'attach sbom: unknown --type', args: (f) => ['attach', 'sbom', '--sbom', f.garbage, '--type', 'bogus', f.ref], error: /--type "bogus" is not an SBOM type/ },
  { name: 'attach sbom: --report under a file', args: (f) => ['attach', 'sbom', '--sbom', f.garbage, '--report', `${f.garbage}/r.json`, f.ref], error: /--report .*garbage\.txt is not a directory/ },
  // --- sign-blob
  { name: 'sign-blob: missing file', args: (f) => ['sign-blob', '--key', f.key, path.join(f.dir, 'nope.tar')], error: /cannot read .*nope\.tar: it does not exist/ },
  { name: 'sign-blob: a directory to sign', args: (f) => ['sign-blob', '--key', f.key, f.emptyDir], error: /cannot read .*empty-dir: it is a directory/ },
  { name: 'sign-blob: --bundle is a directory', args: (f) => ['sign-blob', '--key', f.key, '--bundle', f.emptyDir, f.garbage], error: /--bundle .*: is a directory/ },
  { name: 'sign-blob: --output-signature in a missing directory', args: (f) => ['sign-blob', '--key', f.key, '--output-signature', path.join(f.dir, 'missing', 'x.sig'), f.garbage], error: /--output-signature .*x\.sig: the directory .*missing does not exist/ },
  { name: 'sign-blob: public key', args: (f) => ['sign-blob', '--key', f.pub, f.garbage], error: /is a public key, not a cosign private key/ },
  // --- verify
  { name: 'verify: no key or policy', args: (f) => ['verify', f.ref], error: /verify needs --key FILE/ },
  { name: 'verify: no image', args: (f) => ['verify', '--key', f.pub], error: /verify needs REF\.\.\. or --file LIST/ },
  { name: 'verify: a certificate as --key', args: (f) => ['verify', '--key', f.cert, f.ref], error: /key file .*ca\.crt is a certificate, not a public key/ },
  { name: 'verify: a private key as --key', args: (f) => ['verify', '--key', f.key, f.ref], error: /key file .*cosign\.key is a private key/ },
  { name: 'verify: garbage key', args: (f) => ['verify', '--key', f.garbage, f.ref], error: /key file .*garbage\.txt: public key is not PEM-encoded/ },
  { name: 'verify: missing key', args: (f) => ['verify', '--key', path.join(f.dir, 'nope.pub'), f.ref], error: /cannot read key file .*nope\.pub: ENOENT/ },
  { name: 'verify: missing policy', args: (f) => ['verify', '--policy', path.join(f.dir, 'nope.yaml'), f.ref], error: /nope\.yaml: cannot read the policy file \(ENOENT\)/ },
  { name: 'verify: policy not YAML', args: (f) => ['verify', '--policy', f.file('p-bad.yaml', 'policies: [\n'), f.ref], error: /p-bad\.yaml: not valid YAML/ },
  { name: 'verify: policy of the wrong shape', args: (f) => ['verify', '--policy', f.file('p-shape.yaml', 'policies:\n  - match: 5\n'), f.ref], error: /p-shape\.yaml: invalid policy/ },
  { name: 'verify: policy naming a missing key', args: (f) => ['verify', '--policy', f.file('p-key.yaml', 'policies:\n  - match: "**"\n    signatures: { anyOf: [{ key: missing.pub }] }\n'), f.ref], error: /p-key\.yaml: cannot read key file missing\.pub/ },
  { name: 'verify: --policy with --key', args: (f) => ['verify', '--policy', f.garbage, '--key', f.pub, f.ref], error: /--policy names the signers itself/ },
  { name: 'verify: garbage trusted root', args: (f) => ['verify', '--trusted-root', f.garbage, '--certificate-identity', 'a@b.c', '--certificate-oidc-issuer', 'https://x', f.ref], error: /garbage\.txt: / },
  { name: 'verify: bad identity regexp', args: (f) => ['verify', '--certificate-identity-regexp', '(', '--certificate-oidc-issuer', 'https://x', f.ref], error: /invalid regular expression "\("/ },
  { name: 'verify: identity without issuer', args: (f) => ['verify', '--certificate-identity', 'a@b.c', f.ref], error: /keyless verification needs an OIDC issuer/ },
  { name: 'verify: --junit is a directory', args: (f) => ['verify', '--key', f.pub, '--junit', f.emptyDir, f.ref], error: /--junit .*: is a directory/ },
  { name: 'verify: missing list', args: (f) => ['verify', '--key', f.pub, '--file', path.join(f.dir, 'nope.txt')], error: /cannot read image list .*nope\.txt/ },
  { name: 'verify: missing --ca-roots', args: (f) => ['verify', '--ca-roots', path.join(f.dir, 'nope.pem'), f.ref], error: /cannot read --ca-roots .*nope\.pem/ },
  { name: 'verify: --ca-roots garbage', args: (f) => ['verify', '--ca-roots', f.garbage, f.ref], error: /garbage\.txt: not PEM certificates/ },
  { name: 'verify: truncated layout', args: (f) => ['verify', '--key', f.pub, `oci:${path.join(f.dir, 'truncated')}:v1`], error: /index\.json is not valid JSON/ },
  { name: 'verify standalone bundle: host alone', bundle: 'verify.cjs', args: (f) => ['--key', f.pub, f.host], error: /the repository is missing/ },
  // --- verify-attestation, verify-blob
  { name: 'verify-attestation: unknown --type', args: (f) => ['verify-attestation', '--key', f.pub, '--type', 'bogus', f.ref], error: /--type: invalid predicate type: bogus/ },
  { name: 'verify-attestation: no key', args: (f) => ['verify-attestation', f.ref], error: /verify-attestation needs --key FILE/ },
  { name: 'verify-attestation: --report under a file', args: (f) => ['verify-attestation', '--key', f.pub, '--report', `${f.garbage}/r.json`, f.ref], error: /--report .*garbage\.txt is not a directory/ },
  { name: 'verify-blob: no bundle or signature', args: (f) => ['verify-blob', '--key', f.pub, f.garbage], error: /verify-blob needs --bundle FILE or --signature SIG/ },
  { name: 'verify-blob: signature neither file nor base64', args: (f) => ['verify-blob', '--key', f.pub, '--signature', 'not base64 !!', f.garbage], error: /--signature: "not base64 !!" is neither a file nor base64/ },
  { name: 'verify-blob: missing file', args: (f) => ['verify-blob', '--key', f.pub, '--signature', 'AAAA', path.join(f.dir, 'nope.tar')], error: /cannot read file .*nope\.tar: ENOENT/ },
  { name: 'verify-blob: missing bundle', args: (f) => ['verify-blob', '--key', f.pub, '--bundle', path.join(f.dir, 'nope.json'), f.garbage], error: /cannot read bundle .*nope\.json: ENOENT/ },
  { name: 'verify-blob: --signature without --key', args: (f) => ['verify-blob', '--certificate-identity', 'a@b.c', '--certificate-oidc-issuer', 'https://x', '--signature', 'AAAA', f.garbage], error: /--signature needs --key/ },
  { name: 'verify-blob: a certificate as --key', args: (f) => ['verify-blob', '--key', f.cert, '--signature', 'AAAA', f.garbage], error: /key file .*ca\.crt is a certificate, not a public key/ },
];

describe('bad inputs: one clear line, exit 2, no stack trace, nothing written', () => {
  let f: Fixtures;
  let fixturesBefore: string[];
  const results = new Map<string, { r: CliResult; before: string[]; after: string[]; out: string }>();

  beforeAll(async () => {
    const dir = makeTempDir('badinputs');
    const file = (name: string, text: string) => {
      const p = path.join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const host = `127.0.0.1:${await freePort()}`;
    const keys = await runCli(['key', 'generate', '--output-key-prefix', path.join(dir, 'cosign')], { env: { COSIGN_PASSWORD } });
    expect(keys.code, keys.stderr).toBe(0);
    mkdirSync(path.join(dir, 'tls'));
    const tls = await makeServerTls(path.join(dir, 'tls'));
    const plain = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    mkdirSync(path.join(dir, 'empty-dir'));
    writeLayout(path.join(dir, 'layout'));
    writeLayout(path.join(dir, 'truncated'));
    writeFileSync(path.join(dir, 'truncated', 'index.json'), '{"schemaVersion":2,"manifests":[{"mediaType":"applic');
    writeLayout(path.join(dir, 'wrong-index'));
    writeFileSync(path.join(dir, 'wrong-index', 'index.json'), '{"schemaVersion":2,"manifests":[{"digest":5}]}');
    writeLayout(path.join(dir, 'bad-oci-layout'));
    writeFileSync(path.join(dir, 'bad-oci-layout', 'oci-layout'), 'nope');
    writeLayout(path.join(dir, 'no-index'));
    rmSync(path.join(dir, 'no-index', 'index.json'));
    writeLayout(path.join(dir, 'two-images'));
    const idx = JSON.parse(readFileSync(path.join(dir, 'two-images', 'index.json'), 'utf8')) as { manifests: Array<{ annotations: Record<string, string> }> };
    idx.manifests.push({ ...idx.manifests[0]!, annotations: { 'org.opencontainers.image.ref.name': 'v2' } });
    writeFileSync(path.join(dir, 'two-images', 'index.json'), JSON.stringify(idx));
    mkdirSync(path.join(dir, 'docker-garbage'));
    writeFileSync(path.join(dir, 'docker-garbage', 'config.json'), `{"auths": {"x": {"auth": "${REGISTRY_PASSWORD}`);
    f = {
      dir,
      host,
      ref: `${host}/team/app:1`,
      key: path.join(dir, 'cosign.key'),
      pub: path.join(dir, 'cosign.pub'),
      plainKey: file('plain.pem', plain),
      cert: tls.caFile,
      garbage: file('garbage.txt', 'this is not what you are looking for\n'),
      empty: file('empty.txt', ''),
      emptyDir: path.join(dir, 'empty-dir'),
      layout: path.join(dir, 'layout'),
      file,
    };
    // The cases' files, written before the snapshot.
    const argsOf = cases.map((c) => ({ c, work: makeTempDir('badcase') }));
    const planned = argsOf.map(({ c, work }) => ({ c, work, out: path.join(work, 'out'), args: c.args(f, path.join(work, 'out')) }));
    fixturesBefore = snapshot(dir);
    const cache = makeTempDir('ccache');
    // Parallel batches: the machine is shared, the runs are short.
    for (let i = 0; i < planned.length; i += 6) {
      await Promise.all(
        planned.slice(i, i + 6).map(async ({ c, work, out, args }) => {
          const before = snapshot(work);
          const env: NodeJS.ProcessEnv = {
            COSIGN_PASSWORD,
            AIRLOCK_REGISTRY: host,
            AIRLOCK_REGISTRY_USER: 'airlock',
            AIRLOCK_REGISTRY_PASSWORD: REGISTRY_PASSWORD,
            AIRLOCK_COMPILE_CACHE: cache,
            ...c.env?.(f),
          };
          for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
          const r = await runCli(args, { env, cwd: work, ...(c.bundle ? { bundle: c.bundle } : {}) });
          results.set(c.name, { r, before, after: snapshot(work), out });
        }),
      );
    }
  }, 300_000);

  afterAll(() => {
    if (f) expect(snapshot(f.dir)).toEqual(fixturesBefore);
  });

  it(`the corpus has at least 60 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const got = results.get(c.name)!;
    const { r } = got;
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    const shown = `exit ${r.code}\n${r.stderr}${r.stdout}`.slice(0, 2000);
    expect(r.code, shown).toBe(c.code ?? 2);
    expect(lines.length, shown).toBeGreaterThanOrEqual(1);
    expect(lines.length, shown).toBeLessThanOrEqual(2);
    expect(lines[0], shown).toMatch(/^error: /);
    expect(lines[0], shown).toMatch(c.error);
    if (lines[1] !== undefined) expect(lines[1], shown).toMatch(/^ {2}hint: \S/);
    expect(r.stderr.length, 'a short message, input cut').toBeLessThan(1000);
    expect(r.stdout).toBe('');
    expect(r.stderr + r.stdout).not.toMatch(/\n\s+at |node:internal|\bat .+:\d+:\d+\)/);
    // Secrets never appear, whatever the input.
    expect(r.stderr + r.stdout).not.toContain(REGISTRY_PASSWORD);
    expect(r.stderr + r.stdout).not.toContain(COSIGN_PASSWORD);
    // Nothing written: no destination directory, no report, no temp file, no key in the cwd.
    expect(got.after, shown).toEqual(got.before);
  });
});
