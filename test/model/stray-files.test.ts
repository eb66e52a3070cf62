/**
 * A run writes its outputs and nothing else: no telemetry database or device id under the
 * user's cache folder, no log files in the temp folder, nothing in the working folder.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { CLI, ROOT, tempDir } from '../paths.js';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

function run(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('invert and edit write only their outputs: nothing under HOME, the cache folder, the temp folder or the working folder', async () => {
  const root = await tempDir('flowedit-stray-');
  const dirs = { home: join(root, 'home'), cache: join(root, 'cache'), tmp: join(root, 'tmp'), cwd: join(root, 'cwd') };
  for (const d of Object.values(dirs)) await mkdir(d);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dirs.home, XDG_CACHE_HOME: dirs.cache, TMPDIR: dirs.tmp };
  // the user has not opted in or out of onnxruntime's telemetry
  delete env.ORT_DISABLE_TELEMETRY;
  const still = join(ROOT, 'samples/scenes/still-1.png');
  const source = 'a purple square and a black triangle on blue dots';
  const target = 'a red square and a black triangle on blue dots';

  const inverted = await run(['invert', still, '--source-prompt', source, '--steps', '2', '-o', 'still.flowinv'], dirs.cwd, env);
  assert.equal(inverted.code, 0, inverted.stderr);
  const edited = await run(['edit', 'still.flowinv', '--target-prompt', target, '-o', join(dirs.cwd, 'edited.png')], dirs.cwd, env);
  assert.equal(edited.code, 0, edited.stderr);

  assert.deepEqual(await filesUnder(root), ['cwd/edited.png', 'cwd/still.flowinv']);
});
