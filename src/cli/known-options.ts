/**
 * Unknown flags, found on the command line as typed and reported before any other usage error
 * (a misspelt --target-prompt is named, not reported as a missing --target-prompt), with the
 * nearest known flag as a suggestion.
 */
import { EXIT, UserError } from './errors.js';

/** What a command declares: its option names and their aliases (yargs' getOptions()). */
export interface DeclaredOptions {
  readonly key: Readonly<Record<string, unknown>>;
  readonly alias: Readonly<Record<string, readonly string[]>>;
  readonly boolean: readonly string[];
}

/** Levenshtein distance between two strings. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The known long name nearest to `name`, if one is at most 2 edits away (ties: the first declared). */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d <= 2 && (!best || d < best.d)) best = { name: k, d };
  }
  return best?.name;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The flags of `args` (as typed, up to a bare `--`) that `declared` does not know. */
export function unknownFlags(args: readonly string[], declared: DeclaredOptions): string[] {
  const names = new Set<string>();
  for (const k of Object.keys(declared.key)) names.add(k);
  for (const [k, aliases] of Object.entries(declared.alias)) {
    names.add(k);
    for (const a of aliases) names.add(a);
  }
  for (const n of [...names]) names.add(camel(n));
  const negatable = new Set(declared.boolean);
  const unknown: string[] = [];
  for (const arg of args) {
    if (arg === '--') break;
    const long = /^--([^=]+)/.exec(arg);
    if (long) {
      const name = long[1]!;
      const plain = name.startsWith('no-') ? name.slice(3) : undefined;
      if (!names.has(name) && !(plain !== undefined && (negatable.has(plain) || negatable.has(camel(plain))))) unknown.push(`--${name}`);
      continue;
    }
    const short = /^-([A-Za-z][^=]*)/.exec(arg);
    if (short) for (const c of short[1]!) if (!names.has(c)) unknown.push(`-${c}`);
  }
  return [...new Set(unknown)];
}

/**
 * Refuses a command line with flags the command does not declare (a usage error, exit 2),
 * suggesting the nearest declared flag.
 */
export function assertKnownFlags(args: readonly string[], declared: DeclaredOptions, command: string): void {
  const unknown = unknownFlags(args, declared);
  if (unknown.length === 0) return;
  const longNames = Object.keys(declared.key).filter((k) => k.length > 1);
  const lines = unknown.map((flag) => {
    const guess = flag.startsWith('--') ? nearestName(flag.slice(2), longNames) : undefined;
    return `Unknown option ${flag}${guess ? `: did you mean --${guess}?` : ''}`;
  });
  throw new UserError(`${lines.join('\n')}\nRun ${command} --help for the options it takes.`, EXIT.usage);
}
