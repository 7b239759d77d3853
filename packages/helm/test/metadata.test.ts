import { describe, expect, it } from 'vitest';
import { helmAnnotations, helmConfigJson, parseChartYaml, pickVersion, versionTag } from '../src/index.js';

describe('Chart.yaml as Helm reads and marshals it', () => {
  it('config JSON: Go struct field order, omitempty, dependencies with name and repository always present', () => {
    const m = parseChartYaml(
      [
        'apiVersion: v2',
        'name: umbrella',
        'version: 1.2.3+meta',
        'appVersion: 1.10',
        'deprecated: true',
        'kubeVersion: ">=1.25"',
        'dependencies:',
        '  - name: redis',
        '    version: 18.x',
        '    repository: oci://registry-1.docker.io/bitnamicharts',
        '    condition: redis.enabled',
        '    import-values:',
        '      - child: default.data',
        '        parent: myimports',
        '  - name: common',
        '    alias: lib',
        '    enabled: "true"',
        'type: application',
      ].join('\n'),
      'Chart.yaml',
    );
    expect(m.appVersion).toBe('1.10'); // as written, not the number 1.1
    expect(helmConfigJson(m).toString()).toBe(
      '{"name":"umbrella","version":"1.2.3+meta","apiVersion":"v2","appVersion":"1.10","deprecated":true,"kubeVersion":"\\u003e=1.25",' +
        '"dependencies":[{"name":"redis","version":"18.x","repository":"oci://registry-1.docker.io/bitnamicharts","condition":"redis.enabled","import-values":[{"child":"default.data","parent":"myimports"}]},' +
        '{"name":"common","repository":"","enabled":true,"alias":"lib"}],"type":"application"}',
    );
    expect(versionTag(m.version)).toBe('1.2.3_meta');
  });

  it('annotations: chart annotations may not replace title or version', () => {
    const m = parseChartYaml('apiVersion: v2\nname: a\nversion: 1.0.0\nannotations:\n  org.opencontainers.image.title: evil\n  org.opencontainers.image.description: from annotation\n', 'Chart.yaml');
    expect(helmAnnotations(m, '2024-01-01T00:00:00Z')).toEqual({
      'org.opencontainers.image.title': 'a',
      'org.opencontainers.image.version': '1.0.0',
      'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
      'org.opencontainers.image.description': 'from annotation',
    });
  });

  it('refuses a Chart.yaml without a SemVer version, and picks versions as helm does', () => {
    expect(() => parseChartYaml('apiVersion: v2\nname: a\nversion: latest\n', 'x')).toThrowError(/invalid Chart.yaml at version: not a SemVer 2 version/);
    expect(pickVersion(['1.0.0', '1.2.0', '2.0.0-rc.1'], undefined, 'x')).toBe('1.2.0');
    expect(pickVersion(['1.0.0', '1.2.0', '2.0.0-rc.1'], '2.0.0-rc.1', 'x')).toBe('2.0.0-rc.1');
    expect(pickVersion(['1.0.0', '1.2.0', '1.3.0'], '~1.2', 'x')).toBe('1.2.0');
    expect(() => pickVersion(['1.0.0'], '^2', 'x')).toThrowError(/no version matching \^2/);
  });
});
