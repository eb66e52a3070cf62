/** Presets and batches from the command line, run as a user runs them: a child process on real files. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { encodePng, readImage } from '../../src/media/image.js';
import { ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit, type Result } from './run.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-batch-cli-');
  await copyFile(SAMPLE, join(dir, 'circle.png'));
  await copyFile(join(ROOT, 'samples/blue-square-and-star.png'), join(dir, 'square.png'));
});

/** A manifest of `n` edit items over the two samples, each with two targets. */
async function writeManifest(name: string, n: number, extra: string[] = []): Promise<string> {
  const lines = ['items:'];
  for (let i = 0; i < n; i++) {
    lines.push(`  - id: item${i}`, `    input: ${i % 2 ? 'square.png' : 'circle.png'}`, '    sourcePrompt: a red circle on stripes');
    lines.push('    targets:', `      blue: a blue circle number ${i}`, `      green: a green circle number ${i}`);
  }
  lines.push(...extra);
  const file = join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** Outputs whose sidecar matches the PNG's bytes. */
async function completeOutputs(out: string): Promise<string[]> {
  const done: string[] = [];
  for (const f of (await readdir(out)).filter((n) => n.endsWith('.json') && n !== 'batch-report.json')) {
    const side = JSON.parse(await readFile(join(out, f), 'utf8'));
    const png = await readFile(join(out, side.output)).catch(() => null);
    if (png && sha(png) === side.outputSha256) done.push(side.output);
  }
  return done.sort();
}

/** Runs a batch and sends `signal` as soon as its first item is reported done. */
async function batchSignalledAfterFirstItem(file: string, out: string, signal: NodeJS.Signals): Promise<Result> {
  let sent = false;
  const r = await flowedit(['batch', file, '--out', out, '--steps', '8'], (text, kill) => {
    if (!sent && /item\d: done/.test(text)) {
      sent = true;
      kill(signal);
    }
  });
  assert.ok(sent, `no item finished, so ${signal} was never sent: ${r.stderr}`);
  return r;
}

test('--print-config shows precedence: pack defaults < preset < flag, and runs nothing', async () => {
  const out = join(dir, 'never.png');
  const base = ['edit', SAMPLE, '--model', TINY, '--target-prompt', 'a blue circle', '-o', out, '--print-config'];
  const plain = JSON.parse((await flowedit(base)).stdout);
  assert.equal(plain.settings.steps, 8, 'the pack default');
  assert.equal(plain.settings.guidance, 2);
  const preset = JSON.parse((await flowedit([...base, '--preset', 'text-edit'])).stdout);
  assert.equal(preset.preset, 'text-edit');
  assert.deepEqual([preset.settings.steps, preset.settings.guidance, preset.settings.solver], [20, 4, 'midpoint']);
  const flag = JSON.parse((await flowedit([...base, '--preset', 'text-edit', '--steps', '5', '--solver', 'euler'])).stdout);
  assert.deepEqual([flag.settings.steps, flag.settings.guidance, flag.settings.solver], [5, 4, 'euler']);
  const inv = JSON.parse((await flowedit(['invert', SAMPLE, '--model', TINY, '-o', join(dir, 'never.flowinv'), '--preset', 'reconstruct-check', '--print-config'])).stdout);
  assert.deepEqual(inv.settings, { steps: 20, solver: 'midpoint', fit: 'pad' });
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('never')), []);
});

test('swap takes presets: swap-object shapes the mask, flags win, a bad maskBias is refused', async () => {
  const base = ['swap', SAMPLE, '--mask', join(ROOT, 'samples/red-circle-mask.png'), '--target-prompt', 'a blue square', '-o', join(dir, 'never-swap.png'), '--print-config'];
  const plain = JSON.parse((await flowedit(base)).stdout);
  const builtin = JSON.parse(await readFile(join(ROOT, 'models/flowedit-tiny/manifest.json'), 'utf8'));
  const packBias = builtin.defaults?.tasks?.swap?.maskBias ?? 0; // the built-in pack's own default for swaps
  assert.deepEqual([plain.command, plain.mask.grow, plain.mask.feather, plain.settings.maskBias], ['swap', 2, 6, packBias]);
  const preset = JSON.parse((await flowedit([...base, '--preset', 'swap-object'])).stdout);
  assert.deepEqual([preset.settings.steps, preset.settings.shareLayers, preset.mask.grow, preset.mask.feather], [16, [2], 4, 2.5]);
  const flag = JSON.parse((await flowedit([...base, '--preset', 'swap-object', '--mask-grow', '1', '--mask-bias', '-3'])).stdout);
  assert.deepEqual([flag.mask.grow, flag.mask.feather, flag.settings.maskBias], [1, 2.5, -3]);
  const own = join(dir, 'biased.yaml');
  await writeFile(own, 'command: swap\nmaskBias: -2\n');
  assert.equal(JSON.parse((await flowedit([...base, '--preset', own])).stdout).settings.maskBias, -2);
  await writeFile(own, 'command: swap\nmaskBias: 1\n');
  assertCleanFailure(await flowedit([...base, '--preset', own]), /biased\.yaml: maskBias: expected a number in \[-10000, 0\] but received 1/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('never')), []);
});

test('what guidance steers away from: the pack\'s default, a preset, a flag; a bad value is refused before any work', async () => {
  const base = ['swap', SAMPLE, '--mask', join(ROOT, 'samples/red-circle-mask.png'), '--target-prompt', 'a blue square', '-o', join(dir, 'never-guide.png'), '--print-config'];
  const builtin = JSON.parse(await readFile(join(ROOT, 'models/flowedit-tiny/manifest.json'), 'utf8'));
  const packAgainst = builtin.defaults?.tasks?.swap?.guideAgainst ?? 'empty';
  assert.equal(JSON.parse((await flowedit(base)).stdout).settings.guideAgainst, packAgainst);
  const own = join(dir, 'against.yaml');
  await writeFile(own, 'command: swap\nguideAgainst: source\n');
  assert.equal(JSON.parse((await flowedit([...base, '--model', TINY, '--preset', own])).stdout).settings.guideAgainst, 'source');
  assert.equal(JSON.parse((await flowedit([...base, '--preset', own, '--guide-against', 'empty'])).stdout).settings.guideAgainst, 'empty');
  await writeFile(own, 'command: swap\nguideAgainst: target\n');
  assertCleanFailure(await flowedit([...base, '--preset', own]), /against\.yaml: guideAgainst: expected empty or source but received "target"/);
  const bad = await flowedit([...base, '--guide-against', 'target']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /guide-against/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('never')), []);
});

test('batch runs swap items on stills: outside the mask every pixel is the source\'s, the sidecar records the mask', { timeout: 120_000 }, async () => {
  const m = new Float32Array(3 * 128 * 128).fill(-1);
  for (let c = 0; c < 3; c++) for (let y = 40; y < 90; y++) m.fill(1, c * 128 * 128 + y * 128 + 40, c * 128 * 128 + y * 128 + 90);
  await writeFile(join(dir, 'box.png'), await encodePng({ width: 128, height: 128, data: m }));
  const file = join(dir, 'swaps.yaml');
  const item = ['  - id: boxed', '    input: circle.png', '    mask: box.png', '    sourcePrompt: a red circle on stripes', '    preset: swap-object', '    maskGrow: 0', '    maskFeather: 0'];
  await writeFile(file, ['items:', ...item, '    targets: {blue: a blue square, green: a green star}', ''].join('\n'));
  const out = join(dir, 'swaps-out');
  const r = await flowedit(['batch', file, '--out', out, '--steps', '3', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /batch: 1 done, 0 skipped, 0 failed/);
  assert.deepEqual(await completeOutputs(out), ['boxed-blue.png', 'boxed-green.png']);
  const source = await readImage(SAMPLE);
  const plane = 128 * 128;
  for (const name of ['boxed-blue.png', 'boxed-green.png']) {
    const b = await readImage(join(out, name));
    let changed = 0;
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(source.data[c * plane + i]! - b.data[c * plane + i]!);
        if (m[i] !== 1) assert.equal(d, 0, `${name}: pixel ${i} outside the mask`);
        else if (d > 0) changed++;
      }
    }
    assert.ok(changed > 0, `${name}: the masked part changed`);
  }
  const side = JSON.parse(await readFile(join(out, 'boxed-blue.json'), 'utf8'));
  assert.equal(side.command, 'swap');
  assert.deepEqual([side.mask.grow, side.mask.feather, side.settings.steps], [0, 0, 3]);
  assert.match(side.mask.path, /box\.png$/);
  // a changed mask is redone
  const band = new Float32Array(3 * plane).fill(-1);
  for (let c = 0; c < 3; c++) band.fill(1, c * plane + 100 * 128, c * plane + 110 * 128);
  await writeFile(join(dir, 'box.png'), await encodePng({ width: 128, height: 128, data: band }));
  assert.match((await flowedit(['batch', file, '--out', out, '--steps', '3', '-q'])).stdout, /batch: 1 done, 0 skipped, 0 failed/);
  // a negative prompt is part of what makes an output: adding one redoes it, and the sidecar records it
  const before = await readFile(join(out, 'boxed-blue.png'));
  await writeFile(file, ['items:', ...item, '    negativePrompt: stripes', '    targets: {blue: a blue square, green: a green star}', ''].join('\n'));
  assert.match((await flowedit(['batch', file, '--out', out, '--steps', '3', '-q'])).stdout, /batch: 1 done, 0 skipped, 0 failed/);
  assert.equal(JSON.parse(await readFile(join(out, 'boxed-blue.json'), 'utf8')).negativePrompt, 'stripes');
  assert.notDeepEqual(await readFile(join(out, 'boxed-blue.png')), before, 'the swap steered away from the negative prompt');
  // and only an edit or a swap takes one
  const checks = join(dir, 'negative-reconstruct.yaml');
  await writeFile(checks, ['items:', '  - id: plain', '    input: circle.png', '    preset: reconstruct-check', '    negativePrompt: stripes', ''].join('\n'));
  const refused = await flowedit(['batch', checks, '--out', join(dir, 'negative-reconstruct-out'), '--steps', '3', '-q']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /command "reconstruct" takes no negativePrompt/);
});

test('a bad preset is refused before anything runs, naming the file, the key and what was expected', async () => {
  const bad = join(dir, 'bad-preset.yaml');
  await writeFile(bad, 'steps: 12\nguidance: strong\n');
  const out = join(dir, 'not-written.png');
  assertCleanFailure(
    await flowedit(['edit', SAMPLE, '--target-prompt', 'x', '--preset', bad, '-o', out]),
    /flowedit: .*bad-preset\.yaml: guidance: expected a number in \(0, 100\] \(1 = off\) but received "strong" of type string/,
  );
  assertCleanFailure(await flowedit(['edit', SAMPLE, '--target-prompt', 'x', '--preset', 'recolour', '-o', out]), /Unknown preset "recolour": choose one of .*recolor/);
  const manifest = await writeManifest('bad-preset-manifest.yaml', 1);
  assertCleanFailure(await flowedit(['batch', manifest, '--out', join(dir, 'bad-preset-out'), '--preset', bad]), /item 1 \(item0\): .*bad-preset\.yaml: guidance: expected a number in \(0, 100\]/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('not-written') || f === 'bad-preset-out'), []);
});

test('presets list and show: the resolved values and where each comes from', async () => {
  const list = await flowedit(['presets', 'list']);
  assert.equal(list.code, 0, list.stderr);
  for (const name of ['recolor', 'reconstruct-check', 'swap-object', 'text-edit']) assert.match(list.stdout, new RegExp(`^${name} `, 'm'));
  const show = await flowedit(['presets', 'show', 'reconstruct-check', '--model', TINY]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /steps\s+20\s+preset/);
  assert.match(show.stdout, /guidance\s+2\s+pack tiny/);
  assert.match(show.stdout, /seed\s+0\s+flowedit default/);
  assert.match((await flowedit(['presets', 'show', 'swap-object'])).stdout, /maskFeather\s+2\.5/);
});

test('batch: an invalid manifest stops before any item runs, listing every problem', async () => {
  const file = await writeManifest('invalid.yaml', 2, ['  - id: gone', '    input: nowhere.png', '    targets: {x: y}', '  - id: ../../up', '    input: circle.png', '    targets: {x: y}', '  - id: masked', '    input: circle.png', '    mask: no-mask.png', '    targets: {x: y}']);
  const out = join(dir, 'invalid-out');
  const r = await flowedit(['batch', file, '--out', out]);
  assertCleanFailure(r, /invalid\.yaml has 3 problems \(nothing was run\):/);
  assert.match(r.stderr, /item 3 \(gone\): Input not found: .*nowhere\.png/);
  assert.match(r.stderr, /item 4 \(\.\.\/\.\.\/up\): output .* would be written outside the output folder/);
  assert.match(r.stderr, /item 5 \(masked\): Mask not found: .*no-mask\.png/);
  assert.deepEqual((await readdir(dir)).filter((f) => f === 'invalid-out'), [], 'no output folder made');
});

test('batch killed with SIGKILL after its first output, then re-run: every output made once, no partial file', { timeout: 300_000 }, async () => {
  const total = 8;
  const file = await writeManifest('kill.yaml', total);
  const out = join(dir, 'kill-out');
  const first = await batchSignalledAfterFirstItem(file, out, 'SIGKILL');
  assert.equal(first.signal, 'SIGKILL');
  const before = await completeOutputs(out);
  assert.ok(before.length >= 2, 'the first item\'s two outputs were complete when the process died');
  assert.ok(before.length < 2 * total, 'the batch was killed midway');
  // what a kill during a write leaves: a temporary file beside an output
  const stale = join(out, '.item7-blue.png.0123456789ab.tmp');
  await writeFile(stale, 'half a png');

  const second = await flowedit(['batch', file, '--out', out, '--steps', '8']);
  assert.equal(second.code, 0, second.stderr);
  const report = JSON.parse(await readFile(join(out, 'batch-report.json'), 'utf8'));
  const skipped = report.items.filter((i: { status: string }) => i.status === 'skipped').map((i: { id: string }) => i.id);
  const doneFirst = [...new Set(before.map((f) => f.replace(/-(blue|green)\.png$/, '')))].filter((id) => before.includes(`${id}-blue.png`) && before.includes(`${id}-green.png`));
  assert.deepEqual(skipped.sort(), doneFirst.sort(), 'items finished before the kill are skipped, not redone');
  assert.equal(report.counts.done + report.counts.skipped, total);
  assert.equal(report.counts.failed, 0);
  assert.match(second.stdout, new RegExp(`batch: ${report.counts.done} done, ${report.counts.skipped} skipped, 0 failed`));
  const after = await completeOutputs(out);
  assert.equal(after.length, 2 * total, 'every output is complete and matches its sidecar');
  const names = await readdir(out);
  assert.deepEqual(names.filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
  assert.equal(names.filter((n) => n.endsWith('.png')).length, 2 * total, 'no extra file');
  for (const f of after) await readImage(join(out, f)); // each decodes
});

test('one bad item does not stop the others; the exit status and the report say which failed and why', { timeout: 120_000 }, async () => {
  // an input that is no image is refused with the plan, before anything runs
  await writeFile(join(dir, 'text.png'), 'this is not an image');
  const refused = await writeManifest('not-image.yaml', 2, ['  - id: broken', '    input: text.png', '    targets: {x: a blue circle}']);
  const early = await flowedit(['batch', refused, '--out', join(dir, 'not-image-out'), '--steps', '3']);
  assert.equal(early.code, 1, early.stderr);
  assert.match(early.stderr, /1 problem \(nothing was run\)[\s\S]*item 3 \(broken\): Cannot read .*text\.png as an image/);
  // one that fails while it runs (its output's name is taken by a folder) fails alone
  const file = await writeManifest('one-bad.yaml', 2, ['  - id: broken', '    input: circle.png', '    targets: {x: a blue circle}']);
  const out = join(dir, 'one-bad-out');
  await mkdir(join(out, 'broken-x.png'), { recursive: true });
  const r = await flowedit(['batch', file, '--out', out, '--steps', '3', '-j', '2']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /batch: 2 done, 0 skipped, 1 failed/);
  assert.match(r.stdout, /failed item 3 \(broken\): Cannot write .*broken-x\.png: it is a directory/);
  assert.deepEqual(await completeOutputs(out), ['item0-blue.png', 'item0-green.png', 'item1-blue.png', 'item1-green.png']);
  const report = JSON.parse(await readFile(join(out, 'batch-report.json'), 'utf8'));
  assert.deepEqual(report.counts, { done: 2, skipped: 0, failed: 1, cancelled: 0 });
  assert.match(report.items[2].reason, /it is a directory/);
});

test('the same batch twice in fresh folders gives byte-identical outputs; changed settings are redone', { timeout: 180_000 }, async () => {
  const file = await writeManifest('repro.yaml', 2);
  const outs = [join(dir, 'repro-a'), join(dir, 'repro-b')];
  for (const out of outs) {
    const r = await flowedit(['batch', file, '--out', out, '--steps', '4', '--seed', '7', '-q']);
    assert.equal(r.code, 0, r.stderr);
  }
  const files = (await readdir(outs[0]!)).filter((f) => f.endsWith('.png') || (f.endsWith('.json') && f !== 'batch-report.json')).sort();
  assert.equal(files.length, 8);
  for (const f of files) assert.ok((await readFile(join(outs[0]!, f))).equals(await readFile(join(outs[1]!, f))), `${f} is byte-identical`);
  const side = JSON.parse(await readFile(join(outs[0]!, 'item1-blue.json'), 'utf8'));
  assert.equal(side.seed, side.settings.seed);
  assert.ok(side.seed > 0, 'the item seed derives from the batch seed and the item');
  // same settings: skipped; another step count: redone
  const same = await flowedit(['batch', file, '--out', outs[0]!, '--steps', '4', '--seed', '7', '-q']);
  assert.match(same.stdout, /batch: 0 done, 2 skipped, 0 failed/);
  const changed = await flowedit(['batch', file, '--out', outs[0]!, '--steps', '5', '--seed', '7', '-q']);
  assert.match(changed.stdout, /batch: 2 done, 0 skipped, 0 failed/);
  assert.equal(JSON.parse(await readFile(join(outs[0]!, 'item1-blue.json'), 'utf8')).settings.steps, 5);
});

test('Ctrl-C stops a batch between steps: exit 130, finished outputs kept, a re-run finishes the rest', { timeout: 300_000 }, async () => {
  const total = 8;
  const file = await writeManifest('interrupt.yaml', total);
  const out = join(dir, 'interrupt-out');
  const first = await batchSignalledAfterFirstItem(file, out, 'SIGINT');
  assert.equal(first.code, 130, first.stderr);
  const report = JSON.parse(await readFile(join(out, 'batch-report.json'), 'utf8'));
  assert.ok(report.counts.cancelled > 0, 'items were left for the re-run');
  assert.equal(report.counts.done + report.counts.cancelled, total);
  assert.match(first.stdout, /run the same command again to finish the batch/);
  assert.deepEqual((await readdir(out)).filter((n) => n.endsWith('.tmp') || n.endsWith('.lock')), []);
  const second = await flowedit(['batch', file, '--out', out, '--steps', '8', '-q']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, new RegExp(`batch: ${report.counts.cancelled} done, ${report.counts.done} skipped, 0 failed`));
  assert.equal((await completeOutputs(out)).length, 2 * total);
});

test('SIGTERM stops a batch as Ctrl-C does: exit 143, the lock removed, the report written; while it ran, a second batch on its folder was refused', { timeout: 300_000 }, async () => {
  const total = 8;
  const file = await writeManifest('term.yaml', total);
  const out = join(dir, 'term-out');
  let second: Promise<Result> | undefined;
  const first = await flowedit(['batch', file, '--out', out, '--steps', '8'], (text, kill) => {
    if (second === undefined && /item\d: done/.test(text)) {
      // a live batch holds the folder: a second one is refused, then the first is terminated
      second = flowedit(['batch', file, '--out', out, '--steps', '8']).finally(() => kill('SIGTERM'));
    }
  });
  assert.ok(second, `no item finished: ${first.stderr}`);
  assertCleanFailure(await second, /Another flowedit batch \(process \d+\) is writing to .*term-out; wait for it, or use another --out/);
  assert.equal(first.code, 143, first.stderr);
  assert.match(first.stderr, /terminated: finishing no new items/);
  const report = JSON.parse(await readFile(join(out, 'batch-report.json'), 'utf8'));
  assert.ok(report.counts.cancelled > 0, `items were left for the re-run: ${JSON.stringify(report.counts)}`);
  assert.equal(report.counts.done + report.counts.cancelled, total);
  assert.match(first.stdout, /run the same command again to finish the batch/);
  assert.deepEqual((await readdir(out)).filter((n) => n.endsWith('.tmp') || n.includes('.lock')), [], 'the lock is gone, no temporary file left');
});

test('a lock naming a live process that is no batch does not block the folder; a dead one\'s lock is taken over', { timeout: 120_000 }, async () => {
  const file = await writeManifest('lock.yaml', 1);
  const out = join(dir, 'lock-out');
  await mkdir(out);
  await writeFile(join(out, '.flowedit-batch.lock'), `${process.pid}\n`); // a live process, but no batch: the test runner
  const r = await flowedit(['batch', file, '--out', out, '--steps', '2', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await readdir(out)).filter((n) => n.includes('.lock')), [], 'the lock is released');
  await writeFile(join(out, '.flowedit-batch.lock'), '999999999\n'); // no such process
  const again = await flowedit(['batch', file, '--out', out, '--steps', '2', '-q']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual((await readdir(out)).filter((n) => n.includes('.lock')), [], 'the lock is released');
});

test('batch refuses an item whose output would leave --out through a symbolic link, and inputs from outside the manifest\'s folder unless allowed', async () => {
  const root = await tempDir('flowedit-batch-link-');
  const out = join(root, 'out');
  const elsewhere = join(root, 'elsewhere');
  await mkdir(out);
  await mkdir(elsewhere);
  await symlink(elsewhere, join(out, 'link'));
  await copyFile(SAMPLE, join(root, 'circle.png'));
  const file = join(root, 'm.yaml');
  await writeFile(file, ['items:', '  - id: link/a', '    input: circle.png', '    sourcePrompt: a red circle on stripes', '    targets: {red: a blue circle on stripes}', ''].join('\n'));
  const r = await flowedit(['batch', file, '--out', out, '--steps', '2']);
  assertCleanFailure(r, /item 1 \(link\/a\): output "link\/a-red\.png" would be written outside the output folder .*out \(through the symbolic link .*out\/link, to .*elsewhere\/a-red\.png\)/);
  assert.deepEqual(await readdir(elsewhere), [], 'nothing was written elsewhere');
  // an input reached by "../" needs the manifest's or the command line's say-so
  await mkdir(join(root, 'job'));
  const up = join(root, 'job', 'up.yaml');
  await writeFile(up, ['items:', '  - id: up', '    input: ../circle.png', '    targets: {red: a blue circle on stripes}', ''].join('\n'));
  assertCleanFailure(await flowedit(['batch', up, '--out', join(root, 'up-out')]), /item 1 \(up\): input ".*circle\.png" is outside the manifest's folder .*job; .*--allow-inputs-outside/);
  const allowed = await flowedit(['batch', up, '--out', join(root, 'up-out'), '--allow-inputs-outside', '--print-config']);
  assert.equal(allowed.code, 0, allowed.stderr);
});

test('batch --help says which per-item flags it lacks and where to give them', async () => {
  const r = await flowedit(['batch', '--help']);
  assert.equal(r.code, 0, r.stderr);
  const help = r.stdout.replace(/\s+/g, ' ');
  assert.match(help, /batch has no --source-prompt, --target-prompt, --negative-prompt, --mask, --task or -o; write sourcePrompt, targets, negativePrompt, mask and id in the manifest item/);
  assert.match(help, /maskGrow, maskFeather, maskBias, autoMask\) go in the item or in a preset/);
  assert.match(help, /--allow-inputs-outside/);
  assert.match(help, /143 by SIGTERM/);
});

test('a pack that fails to load in the workers fails the batch with its reason instead of hanging', { timeout: 60_000 }, async () => {
  const broken = join(dir, 'broken-pack');
  await mkdir(broken);
  for (const f of await readdir(TINY)) await copyFile(join(TINY, f), join(broken, f));
  await writeFile(join(broken, 'transformer.onnx'), (await readFile(join(TINY, 'transformer.onnx'))).subarray(0, 1000));
  const file = await writeManifest('broken-pack.yaml', 2);
  const r = await flowedit(['batch', file, '--out', join(dir, 'out-broken-pack'), '--model', broken, '--steps', '2', '--concurrency', '2']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /0 done, 0 skipped, 2 failed/);
  assert.match(r.stdout, /cannot load the model pack: Cannot load ONNX graph .*transformer\.onnx/);
});

test('warnings from a batch item reach the terminal, named by the item', { timeout: 120_000 }, async () => {
  const small = new Float32Array(3 * 64 * 64).fill(-1);
  for (let c = 0; c < 3; c++) small.fill(1, c * 64 * 64 + 20 * 64, c * 64 * 64 + 44 * 64); // white rows 20-43
  await writeFile(join(dir, 'small-box.png'), await encodePng({ width: 64, height: 64, data: small }));
  const file = join(dir, 'warned.yaml');
  const item = ['  - id: scaled', '    input: circle.png', '    mask: small-box.png', '    sourcePrompt: a red circle on stripes', '    preset: swap-object'];
  await writeFile(file, ['items:', ...item, '    targets: {blue: a blue square}', ''].join('\n'));
  const r = await flowedit(['batch', file, '--out', join(dir, 'warned-out'), '--model', TINY, '--steps', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /flowedit: warning: scaled: The mask is 64x64 but the input is 128x128: the mask was scaled to fit/);
});
