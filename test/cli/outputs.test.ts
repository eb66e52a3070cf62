/** What the CLI writes: never over what it reads, over an existing file only with --force, nothing left when stopped. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { encodePng } from '../../src/media/image.js';
import { ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-outputs-');
});

const MASK = join(ROOT, 'samples/red-circle-mask.png');

test('-o naming the input, the mask or an inversion\'s source is refused, naming both paths, and the file is kept', { timeout: 60_000 }, async () => {
  const input = join(dir, 'photo.png');
  const mask = join(dir, 'mask.png');
  await cp(SAMPLE, input);
  await cp(MASK, mask);
  await symlink(input, join(dir, 'link.png'));
  const before = await readFile(input);
  const prompts = ['--source-prompt', 'a red circle on stripes', '--target-prompt', 'a blue circle on stripes', '--steps', '2', '--model', TINY];
  const same = /is the input .*photo\.png \(the same file\): flowedit does not overwrite what it reads/;
  assertCleanFailure(await flowedit(['edit', input, ...prompts, '-o', `${dir}/./photo.png`]), new RegExp(`-o ${dir}/\\./photo\\.png ${same.source}`));
  assertCleanFailure(await flowedit(['edit', join(dir, 'link.png'), ...prompts, '-o', input, '--force']), /-o .*photo\.png is the input .*link\.png \(the same file\)/);
  assertCleanFailure(await flowedit(['edit', input, ...prompts, '--save-inversion', `${dir}/sub/../photo.png`, '-o', join(dir, 'never.png')]), /--save-inversion .*photo\.png is the input/);
  const maskLink = join(dir, 'mask-link.png');
  await symlink(mask, maskLink);
  assertCleanFailure(await flowedit(['swap', input, '--mask', maskLink, ...prompts, '-o', mask]), /-o .*mask\.png is the mask .*mask-link\.png \(the same file\)/);
  const inv = join(dir, 'photo.flowinv');
  const r = await flowedit(['invert', input, '--model', TINY, '--source-prompt', 'a red circle on stripes', '--steps', '2', '-o', inv, '-q']);
  assert.equal(r.code, 0, r.stderr);
  assertCleanFailure(await flowedit(['reconstruct', inv, '--model', TINY, '-o', input, '--force']), /-o .*photo\.png is the inversion's source .*photo\.png/);
  assertCleanFailure(await flowedit(['swap', inv, '--mask', mask, '--model', TINY, '--target-prompt', 'a blue circle on stripes', '-o', input]), /is the inversion's source/);
  assert.ok((await readFile(input)).equals(before), 'the input is untouched');
  assert.ok((await readFile(mask)).equals(await readFile(MASK)), 'the mask is untouched');
});

test('an existing output is refused without --force and replaced with it', { timeout: 60_000 }, async () => {
  const out = join(dir, 'scene.png');
  await writeFile(out, 'an earlier file');
  const args = ['generate', '--model', TINY, '--prompt', 'a red circle', '--steps', '2', '-q', '-o', out];
  assertCleanFailure(await flowedit(args), /scene\.png already exists: pass --force to overwrite it, or choose another name for -o/);
  assert.equal(await readFile(out, 'utf8'), 'an earlier file');
  const forced = await flowedit([...args, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(await readFile(out, 'utf8'), 'an earlier file');
  const help = await flowedit(['generate', '--help']);
  assert.match(help.stdout.replace(/\s+/g, ' '), /--force replace output files that already exist \(without it, an existing output is refused\)/);
});

test('SIGTERM cancels like Ctrl-C: exit 143, no output, no temporary file', { timeout: 120_000 }, async () => {
  const out = join(dir, 'terminated.flowinv');
  let sent = false;
  const r = await flowedit(['invert', SAMPLE, '--steps', '400', '--solver', 'euler', '-o', out], (stderr, kill) => {
    if (!sent && /encode 1\/1/.test(stderr)) {
      sent = true;
      kill('SIGTERM');
    }
  });
  assert.ok(sent, 'progress was shown before the signal');
  assert.equal(r.code, 143, `${r.signal ?? ''} ${r.stderr}`);
  assert.match(r.stderr, /cancelled; no output was written/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.includes('terminated')), []);
});

/** The id of a process that has exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', '0']);
    child.on('exit', () => resolve(child.pid!));
  });
}

test('a run sweeps the temporary files a killed writer left beside its output, and keeps a live writer\'s', { timeout: 60_000 }, async () => {
  const out = join(dir, 'swept.png');
  const stale = join(dir, `.swept.png.${await deadPid()}-0123456789ab.tmp`);
  const live = join(dir, `.swept.png.${process.pid}-ba9876543210.tmp`);
  const others = [join(dir, '.swept.png.notes.tmp'), join(dir, `.other.png.${await deadPid()}-0123456789ab.tmp`)];
  for (const f of [stale, live, ...others]) await writeFile(f, 'x');
  const r = await flowedit(['generate', '--model', TINY, '--prompt', 'a red circle', '--steps', '2', '-q', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok((await stat(out)).isFile());
  await assert.rejects(stat(stale), { code: 'ENOENT' }, 'the dead writer\'s temporary file is removed');
  for (const f of [live, ...others]) assert.ok((await stat(f)).isFile(), `${f} is kept`);
});

test('--max-input-pixels refuses a larger input or mask before decoding it', async () => {
  const out = join(dir, 'never.png');
  assertCleanFailure(
    await flowedit(['invert', SAMPLE, '--model', TINY, '--max-input-pixels', '1000', '-o', join(dir, 'never.flowinv')]),
    /red-circle-on-stripes\.png is 128x128 \(0\.0 megapixels\), more than the limit .*--max-input-pixels 16384/,
  );
  // the input is within the limit, the mask is not
  const big = join(dir, 'big-mask.png');
  await writeFile(big, await encodePng({ width: 256, height: 256, data: new Float32Array(3 * 256 * 256).fill(1) }));
  assertCleanFailure(
    await flowedit(['swap', SAMPLE, '--mask', big, '--model', TINY, '--target-prompt', 'x', '--max-input-pixels', '16384', '-o', out]),
    /big-mask\.png is 256x256 \(0\.1 megapixels\), more than the limit/,
  );
  const help = await flowedit(['swap', '--help']);
  assert.match(help.stdout.replace(/\s+/g, ' '), /--max-input-pixels .*\[an integer from 1 to 1000000000\] \[default: 64000000\]/);
});
