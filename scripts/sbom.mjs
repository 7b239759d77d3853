// The software bill of materials of the bundles: exactly the npm packages esbuild put into them
// (from its metafile), with versions, licenses and the lockfile's integrity hashes, as SPDX 2.3
// and CycloneDX 1.5 JSON. Deterministic: the creation time is SOURCE_DATE_EPOCH (or 0).
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';

/** `node_modules/@scope/name/lib/x.js` → `node_modules/@scope/name` (the innermost package). */
function packageDirOf(input) {
  const parts = input.split('/');
  const i = parts.lastIndexOf('node_modules');
  if (i < 0) return undefined;
  const n = parts[i + 1]?.startsWith('@') ? 3 : 2;
  return parts.slice(0, i + n).join('/');
}

/** Bundled npm packages: [{ name, version, license, integrity, purl }], sorted. */
export function bundledPackages(metafiles, root = '.') {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  const dirs = new Set();
  for (const m of metafiles) for (const input of Object.keys(m.inputs)) {
    // A module a plugin made (`namespace:path`, see omit-unused.mjs) is not a package's file.
    if (/^[\w-]+:/.test(input)) continue;
    const d = packageDirOf(input);
    if (d) dirs.add(d);
  }
  const byName = new Map();
  for (const d of dirs) {
    const pj = JSON.parse(readFileSync(path.join(root, d, 'package.json'), 'utf8'));
    const entry = lock.packages?.[d] ?? {};
    const license = typeof pj.license === 'string' ? pj.license : 'NOASSERTION';
    byName.set(`${pj.name}@${pj.version}`, { name: pj.name, version: pj.version, license, integrity: entry.integrity, purl: `pkg:npm/${pj.name.replace('@', '%40')}@${pj.version}` });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : 1));
}

const created = () => new Date(Number(process.env.SOURCE_DATE_EPOCH ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const spdxId = (p) => `SPDXRef-Package-${p.name.replace(/[^A-Za-z0-9.-]/g, '-')}-${p.version.replace(/[^A-Za-z0-9.-]/g, '-')}`;

function integrityChecksum(integrity) {
  const m = /^(sha512|sha384|sha256|sha1)-(.+)$/.exec(integrity ?? '');
  return m ? [{ algorithm: m[1].toUpperCase(), checksumValue: Buffer.from(m[2], 'base64').toString('hex') }] : [];
}

export function spdx(product, packages) {
  const ns = createHash('sha256').update(JSON.stringify(packages)).digest('hex').slice(0, 16);
  const root = { name: product.name, SPDXID: 'SPDXRef-Package-airlock', versionInfo: product.version, downloadLocation: 'NOASSERTION', filesAnalyzed: false, licenseConcluded: 'NOASSERTION', licenseDeclared: product.license, externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: `pkg:generic/${product.name}@${product.version}` }] };
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${product.name}-${product.version}`,
    documentNamespace: `https://spdx.org/spdxdocs/${product.name}-${product.version}-${ns}`,
    creationInfo: { created: created(), creators: [`Tool: ${product.name}-build`] },
    packages: [
      root,
      ...packages.map((p) => ({
        name: p.name,
        SPDXID: spdxId(p),
        versionInfo: p.version,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        licenseConcluded: 'NOASSERTION',
        licenseDeclared: p.license,
        ...(integrityChecksum(p.integrity).length ? { checksums: integrityChecksum(p.integrity) } : {}),
        externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
      })),
    ],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: root.SPDXID },
      ...packages.map((p) => ({ spdxElementId: root.SPDXID, relationshipType: 'CONTAINS', relatedSpdxElement: spdxId(p) })),
    ],
  };
}

export function cyclonedx(product, packages) {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    metadata: { timestamp: created(), component: { type: 'application', name: product.name, version: product.version, licenses: [{ license: { id: product.license } }] } },
    components: packages.map((p) => ({
      type: 'library',
      name: p.name,
      version: p.version,
      purl: p.purl,
      ...(p.license !== 'NOASSERTION' ? { licenses: [{ expression: p.license }] } : {}),
      ...(integrityChecksum(p.integrity).length ? { hashes: integrityChecksum(p.integrity).map((c) => ({ alg: c.algorithm.replace(/^SHA/, 'SHA-'), content: c.checksumValue })) } : {}),
    })),
  };
}
