/** Running the recipe's Python check scripts (python/*_checks.py) from the tests. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PYTHON, ROOT } from './paths.js';

const run = promisify(execFile);

/**
 * Runs python/<script> with its arguments from python/ (one BLAS thread) and returns the JSON
 * object its last line of output prints; a failing script fails the test with its output.
 */
export async function pythonFindings<T>(script: string, args: readonly string[] = []): Promise<T> {
  let stdout: string;
  try {
    ({ stdout } = await run(PYTHON, [join(ROOT, 'python', script), ...args], { cwd: join(ROOT, 'python'), env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } }));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`python/${script} failed: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}
