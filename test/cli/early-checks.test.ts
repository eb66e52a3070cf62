/** Flags and inputs refused before any model loads or any media is decoded: one clear message, non-zero exit. */
import { join } from 'node:path';
import { before, test } from 'node:test';
import { SAMPLE, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-checks-');
});

test('reconstruct refuses a seed that is not a non-negative integer', async () => {
  assertCleanFailure(await flowedit(['reconstruct', SAMPLE, '--seed', '1.5', '-o', join(dir, 'never.png')]), /Expected a non-negative integer for --seed but received 1\.5/);
});
