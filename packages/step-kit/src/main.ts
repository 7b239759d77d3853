import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { exitCodeFor, ExitCode, formatError } from './exit.js';
import { expandInputsFromEnv } from './env-inputs.js';

export type CommandBuilder = (setExit: (code: number) => void) => Command;

function configure(cmd: Command): void {
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  cmd.showHelpAfterError('(run with --help for usage)');
  for (const sub of cmd.commands) configure(sub);
}

/**
 * Run a CLI: the program's action sets the exit code; any thrown error becomes one line on stderr
 * (never a stack trace) and exit 2 for usage/input errors, 1 otherwise.
 */
export async function runCli(build: (setExit: (code: number) => void) => Command, argv = process.argv): Promise<never> {
  // zod compiles a parser per schema with new Function on first use: worth it for a server parsing
  // millions of documents, not for a CLI parsing a few dozen (measured: ~25 ms of CPU per run).
  z.config({ jitless: true });
  let code: number = ExitCode.Ok;
  // `airlock ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(code);
  });
  const program = build((c) => (code = c));
  configure(program);
  try {
    await program.parseAsync([...argv.slice(0, 2), ...expandInputsFromEnv(program, argv.slice(2), process.env)]);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; parse problems are usage errors
      code = e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    } else {
      process.stderr.write(`${formatError(e)}\n`);
      code = exitCodeFor(e);
    }
  }
  // Let stdout drain (large --json output through a pipe) before exiting.
  await new Promise<void>((r) => (process.stdout.writableLength ? process.stdout.once('drain', () => r()) : r()));
  process.exit(code);
}

/**
 * A command whose implementation is loaded only when it runs: `airlock copy` does not pay for
 * parsing and initialising the signing libraries. Help and options are the real command's.
 */
export function lazyCommand(name: string, summary: string, load: () => Promise<CommandBuilder>, setExit: (code: number) => void): Command {
  const stub = new Command(name)
    .description(summary)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    ;
  stub.action(async () => {
    const real = (await load())(setExit);
    const host = new Command(stub.parent?.name() ?? 'airlock').addCommand(real);
    configure(host);
    await host.parseAsync(expandInputsFromEnv(host, [name, ...stub.args], process.env), { from: 'user' });
  });
  return stub;
}

/** A single-step program (dist/copy.cjs): the step is the root command. */
export function standalone(name: string, builder: CommandBuilder): (setExit: (code: number) => void) => Command {
  return (setExit) => builder(setExit).name(name);
}
