import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { AirlockError } from '@airlock/oci';
import { isAirlockCosignError, verifyBlob, verifyBytes } from '@airlock/cosign';
import { Logger } from '@airlock/step-kit';
import { certificatePolicyOf, hasKeylessFlags, keylessSigner, loadKey, loadTrustedRoot, publicGoodRoot, trustFlags } from './trust.js';
import type { RunIo } from './run.js';

async function readInput(path: string, what: string, hint: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new AirlockError('BAD_INPUT', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint });
  }
}

const B64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** `--signature`: a file holding the base64 signature (or its raw bytes), or the base64 itself. */
async function readSignature(value: string): Promise<Buffer> {
  if (existsSync(value) && statSync(value).isFile()) {
    const bytes = await readInput(value, 'signature file', 'check the path given to --signature');
    const text = bytes.toString('utf8').trim();
    return B64.test(text) ? Buffer.from(text, 'base64') : bytes;
  }
  const text = value.trim();
  if (!B64.test(text)) {
    throw new AirlockError('BAD_INPUT', `--signature: "${value.length > 40 ? `${value.slice(0, 40)}…` : value}" is neither a file nor base64`, { hint: 'pass the signature file written by cosign sign-blob --output-signature, or its base64 text' });
  }
  return Buffer.from(text, 'base64');
}

/** verify-blob: returns the exit code. Input problems throw (exit 2); a signature that does not verify is exit 1. */
export async function runVerifyBlob(file: string, opts: Record<string, unknown>, io: RunIo): Promise<number> {
  const log = new Logger(io.stderr, io.env, false);
  const f = trustFlags(opts);
  const bundlePath = opts.bundle ? String(opts.bundle) : undefined;
  const signature = opts.signature ? String(opts.signature) : undefined;
  if (!bundlePath && !signature) throw new AirlockError('USAGE', 'verify-blob needs --bundle FILE or --signature SIG', { hint: 'see airlock verify-blob --help' });
  if (bundlePath && signature) throw new AirlockError('USAGE', 'give --bundle or --signature, not both', { hint: 'a bundle already holds the signature' });
  if (f.keys.length > 1) throw new AirlockError('USAGE', 'verify-blob takes one --key');
  const keyPath = f.keys[0];
  const keyless = hasKeylessFlags(f);
  if (keyPath && keyless) throw new AirlockError('USAGE', 'give --key or --certificate-identity/--certificate-oidc-issuer, not both');
  if (!keyPath && !keyless) {
    throw new AirlockError('USAGE', 'verify-blob needs --key FILE, or --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp] for a keyless bundle', { hint: 'see airlock verify-blob --help' });
  }
  if (signature && !keyPath) throw new AirlockError('USAGE', '--signature needs --key', { hint: 'a keyless signature is verified from its bundle: use --bundle' });

  const artifact = await readInput(file, 'file', 'check the FILE argument');
  const key = keyPath ? await loadKey(keyPath) : undefined;
  const root = f.trustedRoot ? await loadTrustedRoot(f.trustedRoot) : undefined;

  if (signature) {
    const sig = await readSignature(signature);
    if (!verifyBytes(artifact, sig, (key as NonNullable<typeof key>).key)) {
      log.error(`verify-blob: ${file}: the signature does not verify with the key ${keyPath}`);
      log.error('  hint: the file was modified, or it was signed with another key');
      if (opts.json) io.stdout.write(`${JSON.stringify({ ok: false, file, reason: 'BAD_SIGNATURE' })}\n`);
      return 1;
    }
    log.info(`Verified OK: ${file} (key ${keyPath})`);
    if (opts.json) io.stdout.write(`${JSON.stringify({ ok: true, file, signer: { type: 'key', key: keyPath } })}\n`);
    return 0;
  }

  const bundleBytes = await readInput(bundlePath as string, 'bundle', 'check the path given to --bundle');
  let signer;
  let trustedRoot = root;
  if (keyless) {
    trustedRoot ??= publicGoodRoot();
    if (!root) log.info(`note: keyless: using ${trustedRoot.source} (pass --trusted-root for a private Sigstore instance or a fresher root)`);
    signer = keylessSigner(
      {
        ...(f.certificateIdentity !== undefined ? { identity: f.certificateIdentity } : {}),
        ...(f.certificateIdentityRegexp !== undefined ? { identityRegexp: f.certificateIdentityRegexp } : {}),
        ...(f.certificateOidcIssuer !== undefined ? { issuer: f.certificateOidcIssuer } : {}),
        ...(f.certificateOidcIssuerRegexp !== undefined ? { issuerRegexp: f.certificateOidcIssuerRegexp } : {}),
      },
      trustedRoot,
      'command line',
    );
  }
  try {
    const v = verifyBlob({
      artifact,
      bundleJson: bundleBytes,
      ...(key ? { publicKey: key.key, ...(trustedRoot ? { trustedRoot: trustedRoot.json } : { ignoreTlog: true }) } : {}),
      ...(signer ? { trustedRoot: signer.root.json, ...certificatePolicyOf(signer) } : {}),
    });
    const who = v.signer.type === 'key' ? `key ${keyPath}` : `${v.signer.identity.subjectAlternativeName ?? '?'} (issuer ${v.signer.identity.issuer ?? '?'})`;
    const tlog = key && !trustedRoot ? ', transparency log not checked (no --trusted-root)' : `, ${v.tlogEntries} tlog entr${v.tlogEntries === 1 ? 'y' : 'ies'}, ${v.timestamps} timestamp${v.timestamps === 1 ? '' : 's'}`;
    log.info(`Verified OK: ${file} (${who}${tlog})`);
    if (opts.json) {
      const out = {
        ok: true,
        file,
        bundle: bundlePath,
        mediaType: v.mediaType,
        content: v.content,
        signer: v.signer.type === 'key' ? { type: 'key', key: keyPath } : { type: 'certificate', ...v.signer.identity },
        tlogEntries: v.tlogEntries,
        timestamps: v.timestamps,
        ...(v.statement ? { predicateType: v.statement.predicateType } : {}),
      };
      io.stdout.write(`${JSON.stringify(out)}\n`);
    }
    return 0;
  } catch (e) {
    if (!isAirlockCosignError(e)) throw e;
    log.error(`verify-blob: ${file}: ${e.code}: ${e.message}`);
    log.error(`  hint: ${e.hint}`);
    if (opts.json) io.stdout.write(`${JSON.stringify({ ok: false, file, reason: e.code, message: e.message })}\n`);
    return 1;
  }
}
