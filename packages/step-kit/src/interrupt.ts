import { setMaxListeners } from 'node:events';
import { AirlockError, removeLiveTempFilesSync } from '@airlock/oci';

/**
 * SIGINT and SIGTERM. The first cancels the run: the signal below aborts in-flight requests and
 * streams, the step writes its summary and reports (marking what was interrupted), temporary files
 * are removed, and the process exits 130 (SIGINT) or 143 (SIGTERM). A second signal exits at once,
 * removing the temporary files it knows of. If the step does not finish within GRACE_MS of the
 * first signal, the process exits as for a second one.
 */

export const INTERRUPT_EXIT: Record<InterruptSignal, number> = { SIGINT: 130, SIGTERM: 143 };
export type InterruptSignal = 'SIGINT' | 'SIGTERM';

const GRACE_MS = 20_000;
const controller = new AbortController();
// Every request and stream of the run listens on it: no "possible memory leak" warning past 10.
setMaxListeners(0, controller.signal);
let received: InterruptSignal | undefined;
let installed = false;

/** Aborted when the run is interrupted; pass it to every request and stream that may take a while. */
export function interruptSignal(): AbortSignal {
  return controller.signal;
}

/** The signal that interrupted the run, if any. */
export function interruptedBy(): InterruptSignal | undefined {
  return received;
}

/** The error in-flight work fails with once the run is interrupted. */
export function interruptedError(sig: InterruptSignal = received ?? 'SIGINT'): AirlockError {
  return new AirlockError('INTERRUPTED', `interrupted by ${sig} before it finished`, { hint: 'run the command again to finish; what was complete is kept' });
}

function exitNow(sig: InterruptSignal): never {
  removeLiveTempFilesSync();
  process.exit(INTERRUPT_EXIT[received ?? sig]);
}

/** Install the handlers (once per process; runCli does it). */
export function installInterruptHandlers(stderr: NodeJS.WritableStream = process.stderr): void {
  if (installed) return;
  installed = true;
  const on = (sig: InterruptSignal) => {
    if (received) exitNow(sig);
    received = sig;
    try {
      stderr.write(`\n${sig} received: stopping (cancelling requests, writing the summary and reports); a second signal exits at once\n`);
    } catch {
      // stderr may be gone: the exit code says it
    }
    controller.abort(interruptedError(sig));
    setTimeout(() => exitNow(sig), GRACE_MS).unref();
  };
  process.on('SIGINT', () => on('SIGINT'));
  process.on('SIGTERM', () => on('SIGTERM'));
  // Whatever way the process ends, temporary files it was still writing go with it.
  process.on('exit', () => removeLiveTempFilesSync());
}
