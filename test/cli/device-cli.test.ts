/** --device and FLOWEDIT_DEVICE from the command line: a run on WebGPU, and every refusal before work starts. */
import assert from 'node:assert/strict';
import { access, cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readImage } from '../../src/media/image.js';
import { readPngTextChunks } from '../../src/media/png-text.js';
import { ROOT, SAMPLE, tempDir, TINY } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-device-');
});

const edit = (out: string, ...extra: string[]) => ['edit', SAMPLE, '--model', TINY, '--source-prompt', 'a red circle', '--target-prompt', 'a blue circle', '--steps', '3', '-o', out, ...extra];
const absent = (path: string) => access(path).then(() => false, () => true);

test('edit --device webgpu writes what the CPU writes', { timeout: 240_000 }, async () => {
  const onCpu = join(dir, 'cpu.png');
  const onGpu = join(dir, 'webgpu.png');
  const a = await flowedit(edit(onCpu));
  assert.equal(a.code, 0, a.stderr);
  const b = await flowedit(edit(onGpu, '--device', 'webgpu'));
  assert.equal(b.code, 0, b.stderr);
  const [x, y] = [await readImage(onCpu), await readImage(onGpu)];
  let worst = 0;
  for (let i = 0; i < x.data.length; i++) worst = Math.max(worst, Math.abs(x.data[i]! - y.data[i]!));
  assert.ok(worst <= 2 / 255 + 1e-6, `largest difference ${worst * 127.5} 8-bit steps`); // at most one 8-bit step on [-1, 1]
  const record = JSON.parse(readPngTextChunks(await readFile(onGpu)).flowedit!);
  assert.equal(record.command, 'edit');
  assert.equal(record.device, undefined, 'the device does not change the result, so it is not recorded as a setting');
});

test('a device this install lacks, or an unknown one, stops before any work with what to do', async () => {
  const out = join(dir, 'never.png');
  assertCleanFailure(await flowedit(edit(out, '--device', 'cuda')), /install knows the cuda provider but its library is not installed \(usable here: cpu, webgpu\)\. To get it: .*cuDNN 9/);
  const unknown = await flowedit(edit(out, '--device', 'gpu'));
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /Unknown device "gpu" \(--device\); expected one of cpu, webgpu, cuda, dml, coreml/);
  assertCleanFailure(await flowedit(edit(out), undefined, { ...process.env, FLOWEDIT_DEVICE: 'dml' }), /has no dml provider .*Windows/);
  assertCleanFailure(
    await flowedit(['batch', join(ROOT, 'samples/batch.yaml'), '--out', join(dir, 'batch'), '--device', 'webgpu', '--concurrency', '2']),
    /--concurrency 2 with --device webgpu: on a device the items run one at a time/,
  );
  assert.ok(await absent(out));
});

test('WebGPU without an adapter is one clear error, never a silent CPU run', { timeout: 120_000 }, async () => {
  const out = join(dir, 'no-adapter.png');
  const r = await flowedit(edit(out, '--device', 'webgpu'), undefined, { ...process.env, VK_ICD_FILENAMES: join(dir, 'no-such-driver.json') });
  // Dawn, the WebGPU library, prints its own Vulkan warnings first; flowedit's message is one line after them
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^flowedit: .*The webgpu provider found no device to run on \(.*adapter.*\)\. To get one: .*Vulkan driver.*pass --device cpu/m);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no JavaScript stack trace');
  assert.ok(await absent(out));
});

test('neither a preset nor a pack can choose the device', async () => {
  const preset = join(dir, 'gpu.yaml');
  await writeFile(preset, 'command: edit\ndevice: webgpu\n');
  assertCleanFailure(await flowedit([...edit(join(dir, 'p.png')), '--preset', preset]), /gpu\.yaml: "device" cannot be set here: the device is chosen where the edit runs: pass --device or set FLOWEDIT_DEVICE/);
  const pack = join(dir, 'pack');
  await cp(TINY, pack, { recursive: true });
  const m = JSON.parse(await readFile(join(pack, 'manifest.json'), 'utf8'));
  m.defaults.device = 'webgpu';
  await writeFile(join(pack, 'manifest.json'), JSON.stringify(m));
  const r = await flowedit(['models', 'validate', pack]);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /defaults\.device: a pack cannot choose the device/);
});
