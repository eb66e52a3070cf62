/** Errors the CLI reports as one line (plus a stack with --verbose), and exit codes. */
import { EXIT, UserError } from '../jobs/errors.js';

export { EXIT, UserError };

/** Writes an error to stderr and returns the exit code to use. */
export function reportError(err: unknown, verbose: boolean): number {
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`flowedit: ${e.message}\n`);
  if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
  else if (!(e instanceof UserError)) process.stderr.write('(run again with --verbose for details)\n');
  return e instanceof UserError ? e.exitCode : EXIT.failed;
}
