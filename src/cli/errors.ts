/** Errors the CLI reports as one line (plus a stack with --verbose), and exit codes. */
/** 130 and 143: stopped by Ctrl-C (SIGINT) and by SIGTERM, as a shell reports a process those signals end. */
export const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 130, terminated: 143 } as const;

/** A problem with what the user asked for: reported without a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Writes an error to stderr and returns the exit code to use. */
export function reportError(err: unknown, verbose: boolean): number {
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`flowedit: ${e.message}\n`);
  if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
  else if (!(e instanceof UserError)) process.stderr.write('(run again with --verbose for details)\n');
  return e instanceof UserError ? e.exitCode : EXIT.failed;
}
