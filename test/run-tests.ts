/**
 * The suite's runner (`npm test`): every dist/test/**\/*.test.js, each file in its own process,
 * FLOWEDIT_TEST_JOBS files at a time (default 2: a file's start-up, ffmpeg and Python runs leave a
 * core idle often enough that two files side by side finish sooner than one after the other). The time limit is per test: when no test starts or ends for that long, the running
 * test is reported as stuck and the run stops. A file as a whole has no limit, so a slow or busy
 * machine makes a long file slow, not failed (Node 20's `node --test --test-timeout` limits each
 * file, and nothing else). Prints TAP, or the spec reporter on a terminal, then each file's time,
 * slowest first; exits 1 if a test failed.
 *
 *   node [--test-timeout=<ms per test, default 300000>] dist/test/run-tests.js [file or folder ...]
 */
import { setMaxListeners } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

async function testFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = await readdir(path, { recursive: true });
  return entries.filter((f) => f.endsWith('.test.js')).map((f) => join(path, f));
}

const args = process.argv.slice(2);
const files = (await Promise.all((args.length > 0 ? args : [here]).map((a) => testFiles(resolve(a))))).flat().sort();
if (files.length === 0) {
  console.error(`No *.test.js files under ${args.join(', ') || here}: build first (npx tsc -p tsconfig.json).`);
  process.exit(1);
}

const limitFlag = process.execArgv.find((a) => a.startsWith('--test-timeout='));
const limitMs = limitFlag ? Number(limitFlag.slice('--test-timeout='.length)) : 300_000;

const perFile = new Map<string, number>();
const count = (data: { nesting: number; file?: string; details: { duration_ms: number } }) => {
  if (data.nesting === 0 && data.file) perFile.set(data.file, (perFile.get(data.file) ?? 0) + data.details.duration_ms);
};
const started = Date.now();
const abort = new AbortController();
setMaxListeners(files.length + 10, abort.signal); // run() adds one abort listener per file
const jobs = Number(process.env.FLOWEDIT_TEST_JOBS ?? 2);
if (!(Number.isInteger(jobs) && jobs > 0)) {
  console.error(`Expected a positive integer for FLOWEDIT_TEST_JOBS but received ${process.env.FLOWEDIT_TEST_JOBS}`);
  process.exit(2);
}
const stream = run({ files, concurrency: jobs, signal: abort.signal });

// the watchdog: restarted whenever a test (or subtest) starts or ends
let running = '';
let watchdog: NodeJS.Timeout | undefined;
const progress = (what: string) => {
  running = what;
  clearTimeout(watchdog);
  watchdog = setTimeout(() => {
    process.exitCode = 1;
    console.error(`\n# no test started or ended for ${limitMs / 1000} s while running ${running}: stopping the run`);
    abort.abort();
  }, limitMs);
};
type Event = { nesting: number; name: string; file?: string; details: { duration_ms: number } };
const where = (d: Event) => `'${d.name}'${d.file ? ` (${relative(here, d.file)})` : ''}`;
stream.on('test:dequeue', (d: Event) => progress(where(d)));
stream.on('test:pass', (d: Event) => {
  count(d);
  progress(`what follows ${where(d)}`);
});
stream.on('test:fail', (d: Event) => {
  count(d);
  progress(`what follows ${where(d)}`);
  process.exitCode = 1;
});
const out = process.stdout.isTTY ? stream.compose(new spec()) : stream.compose(tap);
out.pipe(process.stdout, { end: false });
out.on('end', () => {
  clearTimeout(watchdog);
  const lines = [...perFile].sort((a, b) => b[1] - a[1]).map(([f, ms]) => `# ${(ms / 1000).toFixed(1).padStart(7)} s  ${relative(here, f)}`);
  process.stdout.write(`# time per file (sum of its tests):\n${lines.join('\n')}\n# wall time ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});
