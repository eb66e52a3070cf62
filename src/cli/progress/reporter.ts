/**
 * Where progress goes: a status redrawn in place on a terminal (one line, or one per batch
 * worker plus the total), periodic plain lines elsewhere (a pipe, a log file), JSON Lines for
 * programs, or nothing. Messages (warnings, notices) clear the status first, so no remains of
 * it are left on their line.
 */

/** --progress: auto is the bar on a terminal and plain lines elsewhere. */
export const PROGRESS_CHOICES = ['auto', 'plain', 'json', 'none'] as const;
export type ProgressChoice = (typeof PROGRESS_CHOICES)[number];
export type ProgressMode = 'bar' | 'plain' | 'json' | 'none';

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** --progress as given, else none with --quiet, else auto (the bar on a terminal, plain lines elsewhere). */
export function progressMode(choice: ProgressChoice | undefined, quiet: boolean, stream: ProgressStream): ProgressMode {
  const c = choice ?? (quiet ? 'none' : 'auto');
  if (c === 'auto') return stream.isTTY ? 'bar' : 'plain';
  return c;
}

/** What the status shows now. */
export interface StatusView {
  /** the status lines (none: nothing to show yet) */
  lines(now: number): string[];
  /** a plain line is written at once when this changes (a phase, the items running) */
  key(): string;
}

export type MessageType = 'warning' | 'notice' | 'error';

export interface Reporter {
  readonly mode: ProgressMode;
  /** the view changed: the bar is redrawn (at most every `redrawEvery`), a plain line written when its key changed */
  changed(): void;
  /** a JSON Lines event (json mode only) */
  event(e: Readonly<Record<string, unknown>>): void;
  /** a warning or a notice: shown in every mode (as {type, message} in json mode) */
  message(type: MessageType, text: string, extra?: Readonly<Record<string, unknown>>): void;
  /** a line for people (bar and plain modes), or its event in json mode; nothing in none mode */
  line(text: string, event?: Readonly<Record<string, unknown>>): void;
  /** the timer's check: redraws the bar (elapsed time moves), writes a plain line when `plainEvery` passed */
  tick(): void;
  /** clears the bar and stops the timer */
  end(): void;
}

export interface ReporterOptions {
  readonly stream: ProgressStream;
  readonly mode: ProgressMode;
  readonly view: StatusView;
  /** seconds on the clock the status uses (default: since the process started) */
  readonly now?: () => number;
  /** seconds between plain lines while nothing else is written (default 10) */
  readonly plainEvery?: number;
  /** fewest seconds between two redraws of the bar (default 0.1) */
  readonly redrawEvery?: number;
  /** run tick() every second (default true; tests drive tick() themselves) */
  readonly timer?: boolean;
}

const CLEAR_LINE = '\r\x1b[2K';
const UP_AND_CLEAR = '\x1b[1A\x1b[2K';

export const processSeconds = (): number => performance.now() / 1000;

const humanMessage = (type: MessageType, text: string) => (type === 'warning' ? `flowedit: warning: ${text}\n` : `flowedit: ${text}\n`);

export function createReporter(o: ReporterOptions): Reporter {
  const { stream, mode, view } = o;
  const now = o.now ?? processSeconds;
  const plainEvery = o.plainEvery ?? 10;
  const redrawEvery = o.redrawEvery ?? 0.1;
  let drawn = 0; // status lines on the terminal now
  let lastDraw = -Infinity;
  let lastKey = '';
  let lastPlain = now();
  let timer: NodeJS.Timeout | undefined;
  let ended = false;

  const fit = (line: string) => {
    const width = Math.max(20, (stream.columns || 80) - 1);
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  };
  const clearText = () => (drawn > 0 ? CLEAR_LINE + UP_AND_CLEAR.repeat(drawn - 1) : '');
  const draw = () => {
    const lines = view.lines(now()).map(fit);
    stream.write(clearText() + lines.join('\n'));
    drawn = lines.length;
    lastDraw = now();
  };
  const clear = () => {
    if (drawn > 0) stream.write(clearText());
    drawn = 0;
  };
  const plain = () => {
    const lines = view.lines(now());
    if (lines.length > 0) stream.write(`${lines.join('\n')}\n`);
    lastPlain = now();
  };
  /** a finished line written above the status, which is drawn again below it */
  const writeAbove = (text: string) => {
    const redraw = drawn > 0;
    clear();
    stream.write(text);
    if (redraw && !ended) draw();
  };
  const startTimer = () => {
    if (timer || o.timer === false || (mode !== 'bar' && mode !== 'plain')) return;
    timer = setInterval(() => reporter.tick(), 1000);
    timer.unref();
  };

  const reporter: Reporter = {
    mode,
    changed() {
      if (ended) return;
      startTimer();
      const key = view.key();
      const keyChanged = key !== lastKey;
      lastKey = key;
      if (mode === 'bar' && (keyChanged || now() - lastDraw >= redrawEvery)) draw();
      else if (mode === 'plain' && (keyChanged || now() - lastPlain >= plainEvery)) plain();
    },
    event(e) {
      if (mode === 'json') stream.write(`${JSON.stringify(e)}\n`);
    },
    message(type, text, extra = {}) {
      if (mode === 'json') return reporter.event({ type, message: text, ...extra });
      writeAbove(humanMessage(type, text));
    },
    line(text, event) {
      if (mode === 'json') {
        if (event) reporter.event(event);
        return;
      }
      if (mode !== 'none') writeAbove(`${text}\n`);
    },
    tick() {
      if (ended) return;
      if (mode === 'bar' && drawn > 0) draw();
      else if (mode === 'plain' && now() - lastPlain >= plainEvery) plain();
    },
    end() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (mode === 'bar') clear();
      ended = true;
    },
  };
  return reporter;
}
