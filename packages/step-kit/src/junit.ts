export interface JUnitCase {
  name: string;
  classname: string;
  timeSeconds: number;
  failure?: { message: string; details?: string };
  skipped?: string;
  systemOut?: string;
}

function esc(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** JUnit XML as GitLab (artifacts:reports:junit), Jenkins (junit step) and GitHub reporters read it. */
export function junitXml(suite: string, cases: JUnitCase[]): string {
  const failures = cases.filter((c) => c.failure).length;
  const skipped = cases.filter((c) => c.skipped !== undefined).length;
  const time = cases.reduce((a, c) => a + c.timeSeconds, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${esc(suite)}" tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${time.toFixed(3)}">`,
    `  <testsuite name="${esc(suite)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${time.toFixed(3)}">`,
  ];
  for (const c of cases) {
    lines.push(`    <testcase name="${esc(c.name)}" classname="${esc(c.classname)}" time="${c.timeSeconds.toFixed(3)}">`);
    if (c.failure) lines.push(`      <failure message="${esc(c.failure.message)}">${esc(c.failure.details ?? c.failure.message)}</failure>`);
    if (c.skipped !== undefined) lines.push(`      <skipped message="${esc(c.skipped)}"/>`);
    if (c.systemOut) lines.push(`      <system-out>${esc(c.systemOut)}</system-out>`);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
