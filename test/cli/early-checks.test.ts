/** Flags and inputs refused before any model loads or any media is decoded: one clear message, non-zero exit. */
import { join } from 'node:path';
import { before, test } from 'node:test';
import { MEDIA, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-checks-');
});

test('reconstruct refuses a seed that is not a non-negative integer', async () => {
  assertCleanFailure(await flowedit(['reconstruct', SAMPLE, '--seed', '1.5', '-o', join(dir, 'never.png')]), /Expected an integer from -1 to 4294967295 for --seed but received 1\.5/);
});

test('an explicit --ffmpeg that does not run is refused by name, not replaced by another ffmpeg', async () => {
  const clip = join(MEDIA, 'diffueraser-example1-17f.mp4');
  const bad = join(dir, 'no-such-ffmpeg');
  const r = await flowedit(['invert', clip, '--model', TINY, '--source-prompt', 'a scene', '--ffmpeg', bad, '-o', join(dir, 'never.flowinv')]);
  assertCleanFailure(r, /--ffmpeg .*no-such-ffmpeg does not run as ffmpeg: give the path of a working ffmpeg binary/);
});

test('--overlap is checked by every clip command before anything is read', async () => {
  const out = join(dir, 'never.png');
  for (const args of [
    ['edit', SAMPLE, '--target-prompt', 'x', '-o', out],
    ['invert', SAMPLE, '--source-prompt', 'x', '-o', join(dir, 'never.flowinv')],
    ['swap', SAMPLE, '--mask', SAMPLE, '--target-prompt', 'x', '-o', out],
  ]) {
    assertCleanFailure(await flowedit([...args, '--model', TINY, '--overlap', '2.5']), /Expected an integer from 0 to 1000 for --overlap but received 2\.5/);
  }
});

test('a prompt longer than the pack reads is refused before the pack loads or the clip is decoded', async () => {
  const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
  const clip = join(MEDIA, 'diffueraser-example1-17f.mp4');
  const mask = join(MEDIA, 'diffueraser-example1-mask-17f.mp4');
  const out = join(dir, 'never.mp4');
  for (const [args, flag] of [
    [['swap', clip, '--mask', mask, '--source-prompt', long, '--target-prompt', 'x', '-o', out], '--source-prompt'],
    [['edit', clip, '--source-prompt', long, '--target-prompt', 'x', '-o', out], '--source-prompt'],
    [['edit', clip, '--target-prompt', long, '-o', out], '--target-prompt'],
    [['invert', clip, '--source-prompt', long, '-o', join(dir, 'never.flowinv')], '--source-prompt'],
  ] as const) {
    const r = await flowedit([...args, '--model', TINY, '--print-config']);
    assertCleanFailure(r, new RegExp(`The ${flag} "word0 [^"]*"… \\(\\d+ characters\\) has \\d+ tokens but this pack reads at most \\d+: shorten it`));
  }
});
