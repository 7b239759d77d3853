import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from './tools.js';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const DAYS = ['-days', '2'];

export interface ServerTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * Makes a throw-away CA and a server certificate signed by it, valid for 127.0.0.1 (IP SAN) and
 * localhost, in `dir`: ca.crt, ca.key, server.crt, server.key.
 */
export async function makeServerTls(dir: string): Promise<ServerTls> {
  const f = (name: string) => path.join(dir, name);
  await run('openssl', [
    'req', '-x509', ...EC, ...DAYS, '-keyout', f('ca.key'), '-out', f('ca.crt'),
    '-subj', '/CN=Airlock Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', [
    'req', '-new', ...EC, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1',
  ]);
  await writeFile(
    f('server.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '',
    ].join('\n'),
  );
  await run('openssl', [
    'x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
    '-set_serial', `0x${randomSerial()}`, ...DAYS, '-sha256', '-extfile', f('server.ext'),
    '-out', f('server.crt'),
  ]);
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}

/** Makes a client certificate signed by the CA in `dir` (from makeServerTls): client.cert, client.key. */
export async function makeClientCert(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const f = (name: string) => path.join(dir, name);
  await run('openssl', ['req', '-new', ...EC, '-keyout', f('client.key'), '-out', f('client.csr'), '-subj', '/CN=airlock-test-client']);
  await writeFile(f('client.ext'), ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', ''].join('\n'));
  await run('openssl', [
    'x509', '-req', '-in', f('client.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
    '-set_serial', `0x${randomSerial()}`, ...DAYS, '-sha256', '-extfile', f('client.ext'), '-out', f('client.cert'),
  ]);
  return { certFile: f('client.cert'), keyFile: f('client.key') };
}

/** Makes a self-signed P-256 certificate for signing registry tokens: token.crt, token.key in `dir`. */
export async function makeSigningCert(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, 'token.crt');
  const keyFile = path.join(dir, 'token.key');
  await run('openssl', [
    'req', '-x509', ...EC, ...DAYS, '-keyout', keyFile, '-out', certFile, '-subj', '/CN=Airlock Test Token Issuer',
  ]);
  return { certFile, keyFile };
}

function randomSerial(): string {
  // Positive and non-zero: a leading 1, then 56 random bits.
  return `1${randomBytes(7).toString('hex')}`;
}
