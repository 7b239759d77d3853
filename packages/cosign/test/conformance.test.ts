/**
 * sigstore-conformance bundle-verify cases, fully offline. Layout (see the suite's README):
 * bundle.sigstore.json; optional artifact (default ../a.txt); identity/issuer files (defaults
 * below); key.pub for managed-key cases; trusted_root.json, else the public-good root embedded in
 * @sigstore/tuf. A case whose name ends in `_fail` must be rejected.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AirlockCosignError, publicGoodTrustedRoot, verifyBlob } from '../src/index.js';
import { SHARED_FIXTURES } from '../../../test/helpers/fixtures.js';

const BASE = `${SHARED_FIXTURES}/sigstore-conformance/bundle-verify`;
const DEFAULT_IDENTITY = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

const cases = readdirSync(BASE)
  .filter((d) => statSync(join(BASE, d)).isDirectory())
  .sort();
const publicGood = publicGoodTrustedRoot();

function runCase(name: string) {
  const dir = join(BASE, name);
  const opt = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f)) : undefined);
  const key = opt('key.pub');
  return verifyBlob({
    artifact: opt('artifact') ?? readFileSync(join(BASE, 'a.txt')),
    bundleJson: readFileSync(join(dir, 'bundle.sigstore.json')),
    trustedRoot: opt('trusted_root.json') ?? publicGood,
    ...(key
      ? { publicKey: key }
      : {
          certificateIdentity: opt('identity')?.toString('utf8').trim() ?? DEFAULT_IDENTITY,
          certificateIssuer: opt('issuer')?.toString('utf8').trim() ?? DEFAULT_ISSUER,
        }),
  });
}

describe('sigstore-conformance bundle-verify (offline)', () => {
  it('finds the suite', () => {
    expect(cases.length).toBeGreaterThanOrEqual(70);
  });

  for (const name of cases) {
    if (name.endsWith('_fail')) {
      it(`${name} is rejected`, () => {
        let err: unknown;
        try {
          runCase(name);
        } catch (e) {
          err = e;
        }
        expect(err, 'expected verification to fail').toBeInstanceOf(AirlockCosignError);
      });
    } else {
      it(`${name} verifies`, () => {
        const v = runCase(name);
        expect(v.signer.type).toBe(existsSync(join(BASE, name, 'key.pub')) ? 'key' : 'certificate');
      });
    }
  }
});
