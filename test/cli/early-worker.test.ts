/**
 * The inference worker a command starts before its checks (cli/early-worker.ts), and first thing,
 * before its arguments are parsed (cli/boot.ts, jobs/worker-boot.ts): a check that fails while the
 * worker loads the pack ends the command with its usual message and exit status, and the worker
 * does not keep the process alive; --print-config starts none.
 */
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, test } from 'node:test';
import { EXIT } from '../../src/jobs/errors.js';
import { builtinPackDirs } from '../../src/model/builtin.js';
import { findPack } from '../../src/model/home.js';
import { ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit, nodeScript } from './run.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-early-worker-');
});

const steps = 'flowedit: Expected an integer from 1 to 1000 for --steps but received 0\nRun with --help for usage.\n';

test('a check failing in the plan ends each command with its usual message, whatever its worker is doing', async () => {
  const out = join(dir, 'never.png');
  for (const args of [
    ['edit', SAMPLE, '--target-prompt', 'x', '-o', out],
    ['swap', SAMPLE, '--mask', SAMPLE, '--target-prompt', 'x', '-o', out],
    ['invert', SAMPLE, '-o', join(dir, 'never.flowinv')],
    ['generate', '--prompt', 'x', '-o', out],
  ]) {
    const r = await flowedit([...args, '--model', TINY, '--steps', '0']);
    assert.equal(r.code, EXIT.usage, r.stderr);
    assert.equal(r.stderr, steps);
  }
  assertCleanFailure(await flowedit(['reconstruct', SAMPLE, '--model', TINY, '-o', out]), /red-circle-on-stripes\.png is not an inversion file/);
  await assert.rejects(stat(out), { code: 'ENOENT' });
});

test('a check failing after the plan (--compare onto the input) ends the command with its message', async () => {
  const r = await flowedit(['edit', SAMPLE, '--model', TINY, '--target-prompt', 'x', '--compare', SAMPLE, '-o', join(dir, 'never.png')]);
  assert.equal(r.code, EXIT.failed, r.stderr);
  assert.equal(r.stderr, `flowedit: --compare ${SAMPLE} is the input ${SAMPLE} (the same file): flowedit does not overwrite what it reads; choose another output name\n`);
});

test('--print-config prints the settings and exits', async () => {
  const r = await flowedit(['edit', SAMPLE, '--model', TINY, '--target-prompt', 'x', '--print-config', '-o', join(dir, 'never.png')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { command: string }).command, 'edit');
});

test('a command on the built-in pack refused by its checks while that pack loads (begun once its arguments are accepted) ends with its usual message', async () => {
  const out = join(dir, 'never.png');
  for (const args of [
    ['edit', SAMPLE, '--target-prompt', 'x', '-o', out],
    ['swap', SAMPLE, '--mask', SAMPLE, '--target-prompt', 'x', '-o', out],
  ]) {
    const r = await flowedit([...args, '--steps', '0']);
    assert.equal(r.code, EXIT.usage, r.stderr);
    assert.equal(r.stderr, steps);
  }
  // refused while parsing: no load has begun, the booting worker does not hold the exit
  for (let i = 0; i < 3; i++) {
    const r = await flowedit(['edit', SAMPLE, '--target-prompt', 'x', '-o', out, '--no-such-flag']);
    assert.equal(r.code, EXIT.usage, r.stderr);
    assert.equal(r.stderr, 'flowedit: Unknown option --no-such-flag\nRun flowedit edit --help for the options it takes.\n');
  }
  await assert.rejects(stat(out), { code: 'ENOENT' });
});

test('the pack a command loads before planning is the one its plan names, so it is loaded once', async () => {
  // cli/boot.ts loads resolve(builtinPackDirs()[0]); the plan's pack ref is findPack(undefined).dir: the worker keeps a load by that key
  assert.equal(resolve(builtinPackDirs()[0]!), (await findPack(undefined)).dir);
});

test('a booted worker stopped in the middle of its load lets the process exit cleanly', { timeout: 60_000 }, async () => {
  // a worker ended while onnxruntime opens a session aborts the process (exit 134): stopBootedWorker waits for the load
  const script = join(dir, 'stop-booted.mjs');
  const boot = pathToFileURL(join(ROOT, 'dist/src/jobs/worker-boot.js')).href;
  await writeFile(
    script,
    `const { bootPoolWorker, loadOnBootedWorker, stopBootedWorker } = await import(${JSON.stringify(boot)});
bootPoolWorker();
loadOnBootedWorker({ packDir: ${JSON.stringify(builtinPackDirs()[0])} });
await new Promise((r) => setTimeout(r, Number(process.argv[2])));
await stopBootedWorker();
process.stdout.write('stopped');
`,
  );
  for (const ms of [250, 400, 550]) {
    const r = await nodeScript(script, [String(ms)]);
    assert.equal(r.code, 0, `after ${ms} ms: ${r.stderr}`);
    assert.equal(r.stdout, 'stopped');
    assert.doesNotMatch(r.stderr, /terminate called/);
  }
});
