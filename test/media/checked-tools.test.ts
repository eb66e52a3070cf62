/**
 * ffmpeg and ffprobe are run with -version once (media/checked-tools.ts): a later process takes an
 * unchanged binary from the record in the cache folder, a changed one is run again, and one that
 * fails is never remembered. Fake binaries (shell scripts) log each run.
 */
import assert from 'node:assert/strict';
import { appendFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, test } from 'node:test';
import { nodeScript } from '../cli/run.js';
import { ROOT, tempDir } from '../paths.js';

let dir: string;
let script: string;
before(async () => {
  dir = await tempDir('flowedit-checked-tools-');
  script = join(dir, 'find.mjs');
  const tools = pathToFileURL(join(ROOT, 'dist/src/media/ffmpeg-tools.js')).href;
  await writeFile(script, `const { findFfmpeg } = await import(${JSON.stringify(tools)});\nfindFfmpeg(process.argv[2]).then((t) => process.stdout.write(JSON.stringify(t)), (e) => process.stdout.write('refused: ' + e.message));\n`);
});

/** A fake binary that logs its run to `<path>.log` and prints a version line, or fails. */
async function fake(path: string, works: boolean): Promise<void> {
  await writeFile(path, `#!/bin/sh\necho run >> "${path}.log"\n${works ? `echo "${path} version fake"` : 'exit 1'}\n`);
  await chmod(path, 0o755);
}

const runs = async (path: string): Promise<number> => (await readFile(`${path}.log`, 'utf8').catch(() => '')).split('\n').filter((l) => l === 'run').length;

test('a binary that ran -version is not run again while unchanged; a changed one is; a failing one every time', async () => {
  const bin = join(dir, 'bin');
  await mkdir(bin);
  const ffmpeg = join(bin, 'ffmpeg');
  const ffprobe = join(bin, 'ffprobe');
  await fake(ffmpeg, true);
  await fake(ffprobe, true);
  const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') };
  const find = async (path: string) => (await nodeScript(script, [path], undefined, env)).stdout;
  const found = JSON.stringify({ ffmpeg, ffprobe });
  assert.equal(await find(ffmpeg), found);
  assert.deepEqual([await runs(ffmpeg), await runs(ffprobe)], [1, 1]);
  // another process: both taken from the record
  assert.equal(await find(ffmpeg), found);
  assert.deepEqual([await runs(ffmpeg), await runs(ffprobe)], [1, 1]);
  const record = JSON.parse(await readFile(join(dir, 'cache', 'flowedit', 'checked-tools.json'), 'utf8')) as { format: string; tools: Record<string, { version: string }> };
  assert.equal(record.format, 'flowedit.checked-tools');
  assert.equal(record.tools[ffmpeg]!.version, `${ffmpeg} version fake`);
  // ffmpeg changed: run again; ffprobe still taken from the record
  await appendFile(ffmpeg, '# changed\n');
  assert.equal(await find(ffmpeg), found);
  assert.deepEqual([await runs(ffmpeg), await runs(ffprobe)], [2, 1]);
  // ffmpeg now fails: refused, and run each time
  await fake(ffmpeg, false);
  for (const n of [3, 4]) {
    assert.match(await find(ffmpeg), /^refused: --ffmpeg .*ffmpeg does not run as ffmpeg/);
    assert.equal(await runs(ffmpeg), n);
  }
});
