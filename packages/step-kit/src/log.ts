import { detectCi, type CiKind } from './ci.js';

/**
 * Line logs for CI and humans: GitLab collapsible sections, GitHub groups, plain lines elsewhere.
 * Everything goes to stderr; stdout is reserved for --json output.
 */
export class Logger {
  readonly ci: CiKind;
  #sectionN = 0;
  #open: string[] = [];

  constructor(
    readonly out: NodeJS.WritableStream = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
    readonly quiet = false,
  ) {
    this.ci = detectCi(env);
  }

  info(msg: string): void {
    if (!this.quiet) this.out.write(`${msg}\n`);
  }

  warn(msg: string): void {
    const prefix = this.ci === 'github' ? '::warning::' : 'warning: ';
    this.out.write(`${prefix}${msg}\n`);
  }

  error(msg: string): void {
    const prefix = this.ci === 'github' ? '::error::' : '';
    this.out.write(`${prefix}${msg}\n`);
  }

  /** Start a collapsible section (GitLab) or group (GitHub); plain header elsewhere. */
  start(title: string, collapsed = true): void {
    if (this.quiet) return;
    if (this.ci === 'gitlab') {
      const id = `airlock_${++this.#sectionN}`;
      this.#open.push(id);
      const ts = Math.floor(Date.now() / 1000);
      this.out.write(`\x1b[0Ksection_start:${ts}:${id}${collapsed ? '[collapsed=true]' : ''}\r\x1b[0K${title}\n`);
    } else if (this.ci === 'github') {
      this.#open.push('group');
      this.out.write(`::group::${title}\n`);
    } else {
      this.#open.push('plain');
      this.out.write(`${title}\n`);
    }
  }

  end(): void {
    if (this.quiet) return;
    const id = this.#open.pop();
    if (!id) return;
    if (this.ci === 'gitlab') this.out.write(`\x1b[0Ksection_end:${Math.floor(Date.now() / 1000)}:${id}\r\x1b[0K\n`);
    else if (this.ci === 'github') this.out.write('::endgroup::\n');
  }
}
