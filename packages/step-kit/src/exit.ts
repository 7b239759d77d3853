import { AirlockError, INPUT_ERROR_CODES, shorten, toAirlockError } from '@airlock/oci';

export const ExitCode = { Ok: 0, Failed: 1, Usage: 2 } as const;

/** The one line a user sees for an error: never a stack trace (AIRLOCK_DEBUG=1 adds it). */
export function formatError(e: unknown): string {
  const err = toAirlockError(e, 'REGISTRY');
  // One line each, whatever a message carries (quoted input is already cut to ~200 characters).
  const one = (s: string) => shorten(s.replace(/\s*\n\s*/g, ' '), 1000);
  let line = `error: ${one(err.message)}`;
  if (err.hint) line += `\n  hint: ${one(err.hint)}`;
  if (process.env.AIRLOCK_DEBUG && e instanceof Error && e.stack) line += `\n${e.stack}`;
  return line;
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof AirlockError) return INPUT_ERROR_CODES.has(e.code) ? ExitCode.Usage : ExitCode.Failed;
  return ExitCode.Failed;
}
