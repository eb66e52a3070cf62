/** A batch stays in its folders by real path: outputs in --out, inputs in the manifest's folder unless allowed. */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { executeItem } from '../../src/batch/execute.js';
import { readManifest } from '../../src/batch/manifest.js';
import { planBatch } from '../../src/batch/plan.js';
import { loadPack, readPack } from '../../src/model/pack.js';
import { SAMPLE, TINY, tempDir } from '../paths.js';

/** A manifest folder with a still, an output folder, and a folder elsewhere that links may point to. */
async function layout(): Promise<{ dir: string; out: string; elsewhere: string }> {
  const root = await tempDir('flowedit-confine-');
  const dir = join(root, 'job');
  const out = join(root, 'out');
  const elsewhere = join(root, 'elsewhere');
  for (const d of [dir, out, elsewhere]) await mkdir(d);
  await copyFile(SAMPLE, join(dir, 'circle.png'));
  await copyFile(SAMPLE, join(root, 'outside.png'));
  await copyFile(SAMPLE, join(elsewhere, 'secret.png'));
  return { dir, out, elsewhere };
}

const problemsOf = (err: Error) => err.message.split('\n').filter((l) => l.startsWith('  - '));

test('outputs, sidecars and the report may not leave --out through a symbolic link; all listed before anything runs', async () => {
  const { dir, out, elsewhere } = await layout();
  await symlink(elsewhere, join(out, 'link')); // ln -s <elsewhere> out/link
  await symlink(join(elsewhere, 'b.png'), join(out, 'b-red.png')); // an output that is a (dangling) link
  await symlink(join(elsewhere, 'c.json'), join(out, 'c-red.json')); // a sidecar that is a link
  await symlink(join(elsewhere, 'report.json'), join(out, 'batch-report.json'));
  await mkdir(join(out, 'inside'));
  await symlink(join(out, 'inside'), join(out, 'alias')); // a link that stays inside is fine
  const file = join(dir, 'm.yaml');
  const item = (id: string) => [`  - id: ${id}`, '    input: circle.png', '    targets: {red: a red circle}'];
  await writeFile(file, ['items:', ...item('link/a'), ...item('b'), ...item('c'), ...item('alias/d'), ...item('fine'), ''].join('\n'));
  const pack = await readPack(TINY);
  const err = await planBatch(await readManifest(file), pack, { outDir: out, batchSeed: 0, flags: {} }).then(
    () => assert.fail('outputs through links were accepted'),
    (e: Error) => e,
  );
  assert.match(err.message, /m\.yaml has 4 problems \(nothing was run\)/);
  const problems = problemsOf(err);
  assert.match(problems[0]!, /the report: output "batch-report\.json" would be written outside the output folder .*out \(through the symbolic link .*out\/batch-report\.json, to .*elsewhere\/report\.json\)/);
  assert.match(problems[1]!, /item 1 \(link\/a\): output "link\/a-red\.png" would be written outside the output folder .*out \(through the symbolic link .*out\/link, to .*elsewhere\/a-red\.png\); remove the link or choose another --out/);
  assert.match(problems[2]!, /item 2 \(b\): output "b-red\.png" would be written outside/);
  assert.match(problems[3]!, /item 3 \(c\): output "c-red\.json" would be written outside/);
  assert.deepEqual((await readdir(elsewhere)).sort(), ['secret.png'], 'nothing was written elsewhere');
  // the same folder without the escaping links plans cleanly, the inside link included
  for (const f of ['link', 'b-red.png', 'c-red.json', 'batch-report.json']) await rm(join(out, f));
  const plan = await planBatch(await readManifest(file), pack, { outDir: out, batchSeed: 0, flags: {} });
  assert.equal(plan.items.length, 5);
});

test('inputs and masks must lie in the manifest\'s folder by real path unless the manifest or the caller allows otherwise', async () => {
  const { dir, out, elsewhere } = await layout();
  await symlink(join(elsewhere, 'secret.png'), join(dir, 'innocent.png')); // a link inside that leads out
  await symlink(elsewhere, join(dir, 'linked-folder'));
  await mkdir(join(dir, 'masks'));
  await copyFile(SAMPLE, join(dir, 'masks', '0001.png'));
  await symlink(join(elsewhere, 'secret.png'), join(dir, 'masks', '0002.png')); // one frame of a mask folder leads out
  const file = join(dir, 'm.yaml');
  const swap = (id: string, input: string, mask: string) => [`  - id: ${id}`, `    input: ${input}`, `    mask: ${mask}`, '    preset: swap-object', '    targets: {red: a red square}'];
  const items = [
    '  - {id: up, input: ../outside.png, targets: {red: a red circle}}',
    `  - {id: absolute, input: ${join(elsewhere, 'secret.png')}, targets: {red: a red circle}}`,
    '  - {id: linked, input: innocent.png, targets: {red: a red circle}}',
    '  - {id: through, input: linked-folder/secret.png, targets: {red: a red circle}}',
    ...swap('mask-up', 'circle.png', '../outside.png'),
    ...swap('mask-linked', 'circle.png', 'innocent.png'),
    '  - {id: fine, input: circle.png, targets: {red: a red circle}}',
  ];
  await writeFile(file, ['items:', ...items, ''].join('\n'));
  const pack = await readPack(TINY);
  const err = await planBatch(await readManifest(file), pack, { outDir: out, batchSeed: 0, flags: {} }).then(
    () => assert.fail('inputs outside the manifest\'s folder were accepted'),
    (e: Error) => e,
  );
  assert.match(err.message, /m\.yaml has 6 problems/);
  const problems = problemsOf(err);
  const hint = /move it into that folder, or allow inputs outside it with "allowInputsOutside: true" in the manifest or --allow-inputs-outside/;
  assert.match(problems[0]!, /item 1 \(up\): input ".*outside\.png" is outside the manifest's folder .*job/);
  assert.match(problems[1]!, /item 2 \(absolute\): input ".*elsewhere\/secret\.png" is outside/);
  assert.match(problems[2]!, /item 3 \(linked\): input "innocent\.png" is outside the manifest's folder .*job \(through the symbolic link .*job\/innocent\.png, to .*elsewhere\/secret\.png\)/);
  assert.match(problems[3]!, /item 4 \(through\): input "linked-folder\/secret\.png" is outside .*\(through the symbolic link .*job\/linked-folder,/);
  assert.match(problems[4]!, /item 5 \(mask-up\): mask ".*outside\.png" is outside/);
  assert.match(problems[5]!, /item 6 \(mask-linked\): mask "innocent\.png" is outside/);
  for (const p of problems) assert.match(p, hint);
  // a mask folder is checked file by file (a clip's per-frame masks)
  await writeFile(file, ['items:', '  - {id: clip, input: circle.png, mask: masks, preset: swap-object, targets: {red: a red square}}', ''].join('\n'));
  await assert.rejects(planBatch(await readManifest(file), pack, { outDir: out, batchSeed: 0, flags: {} }), /mask "masks\/0002\.png" is outside the manifest's folder .*\(it leads to .*elsewhere\/secret\.png\)/);
  // allowed explicitly: by the manifest, or by the caller (the command line's --allow-inputs-outside)
  const allowed = ['items:', ...items.slice(0, 4), ''].join('\n');
  await writeFile(file, `allowInputsOutside: true\n${allowed}`);
  assert.equal((await planBatch(await readManifest(file), pack, { outDir: out, batchSeed: 0, flags: {} })).items.length, 4);
  await writeFile(file, allowed);
  assert.equal((await planBatch(await readManifest(file), pack, { outDir: out, batchSeed: 0, flags: {}, allowInputsOutside: true })).items.length, 4);
  await writeFile(file, `allowInputsOutside: yes please\n${allowed}`);
  await assert.rejects(readManifest(file), /m\.yaml: allowInputsOutside: expected true or false but received "yes please"/);
});

test('a link made in --out after the plan was checked does not lead a write outside it', { timeout: 60_000 }, async () => {
  const { dir, out, elsewhere } = await layout();
  const file = join(dir, 'm.yaml');
  await writeFile(file, ['items:', '  - {id: sub/late, input: circle.png, sourcePrompt: a red circle, targets: {red: a blue circle}}', ''].join('\n'));
  const plan = await planBatch(await readManifest(file), await readPack(TINY), { outDir: out, batchSeed: 0, flags: { steps: 1, solver: 'euler' } });
  await symlink(elsewhere, join(out, 'sub')); // appears while the batch runs
  const pack = await loadPack(TINY, { threads: 1 });
  try {
    await assert.rejects(executeItem(pack, plan.items[0]!, ['red']), /output "sub\/late-red\.png" would be written outside the output folder .*through the symbolic link .*out\/sub/);
  } finally {
    await pack.release();
  }
  assert.deepEqual((await readdir(elsewhere)).sort(), ['secret.png'], 'nothing was written elsewhere');
});

test('a swap item whose mask covers no pixel is refused with the plan, before any item runs', async () => {
  const { dir, out } = await layout();
  const { encodePng } = await import('../../src/media/image.js');
  const black = { width: 128, height: 128, data: new Float32Array(3 * 128 * 128).fill(-1) };
  await writeFile(join(dir, 'black.png'), await encodePng(black));
  const file = join(dir, 'm.yaml');
  await writeFile(file, ['items:', '  - id: s', '    input: circle.png', '    mask: black.png', '    preset: swap-object', '    sourcePrompt: a red circle', '    targets: {blue: a blue circle}', ''].join('\n'));
  await assert.rejects(planBatch(await readManifest(file), await readPack(TINY), { outDir: out, batchSeed: 0, flags: {} }), /item 1 \(s\): .*the mask covers no pixels/);
  assert.deepEqual(await readdir(out), [], 'nothing was written');
});
