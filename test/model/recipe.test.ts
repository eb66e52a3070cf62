/**
 * The training recipe's decoder growth (python/recipe_checks.py, with Debian's python3-torch):
 * refine blocks added to a trained decoder start as the identity, then train; a checkpoint that
 * does not fit the config is refused.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PYTHON, ROOT } from '../paths.js';

const run = promisify(execFile);

test('a grown VAE decoder keeps its output until trained, and an unfitting checkpoint is refused', { timeout: 300_000 }, async () => {
  let stdout: string;
  try {
    ({ stdout } = await run(PYTHON, [join(ROOT, 'python/recipe_checks.py')], { cwd: join(ROOT, 'python'), env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } }));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`python/recipe_checks.py failed: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
  const found = JSON.parse(stdout.trim().split('\n').pop()!) as { grew: boolean; max_output_change: number; refine_weight_after_training: number; refused_unfitting: boolean };
  assert.equal(found.grew, true, 'the old state is reported as grown');
  assert.equal(found.max_output_change, 0, 'the grown decoder decodes exactly as before');
  assert.ok(found.refine_weight_after_training > 0, 'training moves the refine blocks off the identity');
  assert.equal(found.refused_unfitting, true, 'an unfitting checkpoint is refused');
});
