import { AirlockError, INPUT_ERROR_CODES, toAirlockError } from '@airlock/oci';

export const ExitCode = { Ok: 0, Failed: 1, Usage: 2 } as const;

/** The one line a user sees for an error: never a stack trace (AIRLOCK_DEBUG=1 adds it). */
export function formatError(e: unknown): string {
  const err = toAirlockError(e, 'REGISTRY');
  let line = `error: ${err.message}`;
  if (err.hint) line += `\n  hint: ${err.hint}`;
  if (process.env.AIRLOCK_DEBUG && e instanceof Error && e.stack) line += `\n${e.stack}`;
  return line;
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof AirlockError) return INPUT_ERROR_CODES.has(e.code) ? ExitCode.Usage : ExitCode.Failed;
  return ExitCode.Failed;
}
