import { junitXml } from '@airlock/step-kit';
import type { ImageResult, Seen, SeenItem } from './model.js';

export type ReportImage = Omit<ImageResult, 'signatures' | 'attestations'> & { signatures: SeenItem[]; attestations: SeenItem[] };

/** The Airlock verification report (--report FILE). */
export interface VerifyReport {
  tool: 'airlock';
  command: 'verify' | 'verify-attestation';
  ok: boolean;
  /** The policy file, when one was used. */
  policy?: string;
  images: ReportImage[];
  totals: {
    images: number;
    ok: number;
    failed: number;
    signatures: { seen: number; valid: number };
    attestations: { seen: number; valid: number };
    durationMs: number;
  };
}

/** A Seen record as it goes into the report: no in-memory details. */
export function seenItem(s: Seen): SeenItem {
  const { detail: _detail, verifiedWith: _with, ...item } = s;
  return item;
}

export function buildReport(command: VerifyReport['command'], results: ImageResult[], durationMs: number, policy?: string): VerifyReport {
  const count = (f: (r: ImageResult) => Seen[], valid: boolean) => results.reduce((n, r) => n + f(r).filter((s) => !valid || s.valid).length, 0);
  const failed = results.filter((r) => !r.ok).length;
  return {
    tool: 'airlock',
    command,
    ok: failed === 0,
    ...(policy ? { policy } : {}),
    images: results.map((r) => ({ ...r, signatures: r.signatures.map(seenItem), attestations: r.attestations.map(seenItem) })),
    totals: {
      images: results.length,
      ok: results.length - failed,
      failed,
      signatures: { seen: count((r) => r.signatures, false), valid: count((r) => r.signatures, true) },
      attestations: { seen: count((r) => r.attestations, false), valid: count((r) => r.attestations, true) },
      durationMs,
    },
  };
}

/** `sha256-<64 hex>.sig` → `sha256-<12 hex>….sig`, `sha256:<64 hex>` → `sha256:<12 hex>…` (log lines). */
export function abbreviate(s: string): string {
  return s.replace(/\b(sha256[-:])([a-f0-9]{12})[a-f0-9]{52}\b/g, '$1$2…');
}

/** One line for a seen signature/attestation. */
export function seenLine(s: SeenItem, short = false): string {
  const where = short ? abbreviate(s.location) : s.location;
  if (s.valid) {
    const by = s.verifiedBy.join(', ');
    const extra = [
      s.predicateType ? `type ${s.predicateType}` : '',
      s.signer?.subjectAlternativeName ? `signer ${s.signer.subjectAlternativeName}${s.signer.issuer ? ` (${s.signer.issuer})` : ''}` : '',
      s.dockerReference ? `docker-reference ${s.dockerReference}` : '',
    ].filter(Boolean);
    return `valid     ${where}: verified with ${by}${extra.length ? `; ${extra.join('; ')}` : ''}`;
  }
  return `rejected  ${where}: ${s.reason ?? 'REJECTED'}: ${s.message ?? 'rejected'}`;
}

export function imageTitle(r: ImageResult): string {
  const ref = r.reference !== r.input ? `${r.input} → ${r.reference}` : r.input;
  return `${ref}${r.digest ? ` (${r.digest})` : ''}${r.policy && r.policy !== 'command line' ? ` [policy ${r.policy}]` : ''}`;
}

export function reportJunit(report: VerifyReport): string {
  return junitXml(
    `airlock ${report.command}`,
    report.images.map((r) => {
      const lines = [...r.signatures, ...r.attestations].map((s) => seenLine(s));
      const name = r.reference !== r.input ? `${r.input} → ${r.reference}` : r.input;
      return {
        name,
        classname: `airlock.${report.command}`,
        timeSeconds: r.durationMs / 1000,
        ...(r.ok
          ? {}
          : {
              failure: {
                message: r.failures[0] ?? 'verification failed',
                details: [...r.failures, ...(r.error?.hint ? [`hint: ${r.error.hint}`] : []), ...lines].join('\n'),
              },
            }),
        systemOut: [`digest ${r.digest ?? '-'}`, ...(r.policy ? [`policy ${r.policy}`] : []), ...lines, ...r.notes.map((n) => `note: ${n}`)].join('\n'),
      };
    }),
  );
}
