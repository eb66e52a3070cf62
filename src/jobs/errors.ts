/** Errors that carry an exit code: a problem with what was asked for, reported as one line. */
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
