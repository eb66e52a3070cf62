/**
 * `npm run eval -- --scenes DIR`: the benchmark on a held-out folder other than the committed one,
 * and the counts asked for checked against what the folder holds before any model is loaded.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { heldoutDir, readIndex } from '../../bench/eval/dataset.js';
import { nodeScript } from '../cli/run.js';
import { ROOT, tempDir } from '../paths.js';

const EVAL = join(ROOT, 'dist/bench/eval.js');

/** A held-out folder of the committed set's first two stills. */
async function twoStills(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const cases = readIndex(heldoutDir(ROOT)).filter((c) => c.kind === 'still').slice(0, 2);
  for (const c of cases) {
    for (const suffix of ['', '-edit', '-mask', '-edit-mask']) {
      await copyFile(join(heldoutDir(ROOT), `${c.id}${suffix}.png`), join(dir, `${c.id}${suffix}.png`));
    }
  }
  await writeFile(join(dir, 'index.json'), JSON.stringify({ cases }));
}

const evalRun = (args: string[]) => nodeScript(EVAL, args);

test('eval --scenes measures the folder named, and refuses counts it does not hold', { timeout: 300_000 }, async () => {
  const tmp = await tempDir();
  const scenes = join(tmp, 'two');
  await twoStills(scenes);
  const out = join(tmp, 'e.json');

  const ok = await evalRun(['--scenes', scenes, '--stills', '2', '--clips', '0', '--only', 'generate', '--out', out]);
  assert.equal(ok.code, 0, ok.stderr);
  const written = JSON.parse(await readFile(out, 'utf8')) as { stills: number; clips: number; scenes: string; rows: { section: string; n: number[] }[] };
  assert.equal(written.stills, 2);
  assert.equal(written.clips, 0);
  assert.ok(written.scenes.endsWith('two'), `the folder is recorded: ${written.scenes}`);
  assert.ok(written.rows.length > 0 && written.rows.every((r) => r.section === 'generate' && r.n[0] === 2), 'every row counts the 2 stills');

  const tooMany = join(tmp, 'more.json');
  const more = await evalRun(['--scenes', scenes, '--stills', '3', '--clips', '0', '--only', 'generate', '--out', tooMany]);
  assert.equal(more.code, 1);
  assert.match(more.stderr, /--stills 3 .*holds \(2\)/, 'both counts are named');
  assert.match(more.stderr, /make_benchmark\.py --out DIR --stills 3/, 'and how to write a larger set');
  assert.equal(existsSync(tooMany), false, 'nothing is written');

  const clips = await evalRun(['--scenes', scenes, '--stills', '2', '--only', 'generate', '--out', tooMany]);
  assert.match(clips.stderr, /--clips 16 .*holds \(0\)/, 'the default 16 clips are checked too');

  const empty = await evalRun(['--scenes', tmp, '--out', tooMany]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /holds no index\.json: write a held-out set there with .*make_benchmark\.py --out/);
});
