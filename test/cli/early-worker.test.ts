/**
 * The inference worker a command starts before its checks (cli/early-worker.ts): a check that fails
 * while the worker loads the pack ends the command with its usual message and exit status, and the
 * worker does not keep the process alive; --print-config starts none.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { EXIT } from '../../src/jobs/errors.js';
import { SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

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
