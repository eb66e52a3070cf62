/**
 * Devices: choosing one, refusing what this install lacks, the small graphs the device runs
 * between calls, and a real run on the WebGPU provider (a Vulkan driver is needed: the GPU's, or
 * Mesa's software one as in CI) against the CPU, with the host↔device bytes it saves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editLatent } from '../../src/edit/latent/edit.js';
import { invertLatent } from '../../src/edit/latent/invert.js';
import { DEVICES, missingProvider, pickDevice } from '../../src/model/devices.js';
import { onnxModel } from '../../src/model/onnx-proto.js';
import { installedProviders, onDevice, openGraph, resetTraffic, trafficSoFar, type DeviceTensor, type Traffic } from '../../src/model/ort.js';
import { loadPack } from '../../src/model/pack.js';
import { maxAbsDiff, noise, ROOT, TINY } from '../paths.js';
import { join } from 'node:path';

const TINY_F16 = join(ROOT, 'test/fixtures/packs/tiny-f16');

test('the device comes from --device, else FLOWEDIT_DEVICE, else cpu; unknown names are refused', () => {
  assert.equal(pickDevice(undefined, {}), 'cpu');
  assert.equal(pickDevice(undefined, { FLOWEDIT_DEVICE: 'webgpu' }), 'webgpu');
  assert.equal(pickDevice('cuda', { FLOWEDIT_DEVICE: 'webgpu' }), 'cuda');
  assert.equal(pickDevice(undefined, { FLOWEDIT_DEVICE: '' }), 'cpu');
  assert.throws(() => pickDevice('gpu', {}), /Unknown device "gpu" \(--device\); expected one of cpu, webgpu, cuda, dml, coreml/);
  assert.throws(() => pickDevice(undefined, { FLOWEDIT_DEVICE: 'tpu' }), /Unknown device "tpu" \(FLOWEDIT_DEVICE\)/);
});

test('a provider the install lacks is refused with what it has and how to get the missing one', () => {
  const linux = [{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'cuda', bundled: false }];
  assert.equal(missingProvider('webgpu', linux, () => false), null);
  assert.equal(missingProvider('cuda', linux, (n) => n === 'cuda'), null);
  const cuda = missingProvider('cuda', linux, () => false)!;
  assert.match(cuda, /knows the cuda provider but its library is not installed \(usable here: cpu, webgpu\)/);
  assert.match(cuda, /--onnxruntime-node-install=cuda12.*CUDA 12 and cuDNN 9/);
  assert.match(cuda, /never falls back.*--device webgpu or cpu/);
  assert.match(missingProvider('dml', linux, () => false)!, /has no dml provider.*only in onnxruntime-node for Windows/);
  assert.match(missingProvider('coreml', [{ name: 'cpu', bundled: true }], () => false)!, /usable here: cpu\).*macOS.*--device cpu to run here/);
  for (const d of DEVICES) assert.ok(d === 'cpu' || missingProvider(d, [{ name: 'cpu', bundled: true }], () => false));
});

test('this install: the CPU and WebGPU providers are there, and a missing one stops before any graph opens', async () => {
  const names = installedProviders().map((p) => p.name);
  assert.ok(names.includes('cpu') && names.includes('webgpu'), names.join(', '));
  await assert.rejects(openGraph(join(TINY, 'transformer.onnx'), { device: 'dml' }), /has no dml provider \(usable here: cpu, webgpu/);
});

test('graphs written in memory run: Expand repeats along the batch, Slice takes the first item', async () => {
  const model = onnxModel({
    inputs: [{ name: 'x', type: 'float32', shape: [1, 'h', 's', 'd'] }, { name: 'shape', type: 'int64', shape: [4] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['B', 'h', 's', 'd'] }, { name: 'z', type: 'float32', shape: [1, 'h', 's', 'd'] }],
    nodes: [
      { op: 'Expand', inputs: ['x', 'shape'], outputs: ['y'] },
      { op: 'Slice', inputs: ['y', 'starts', 'ends', 'axes'], outputs: ['z'] },
    ],
    constants: [
      { name: 'starts', values: [1] },
      { name: 'ends', values: [2] },
      { name: 'axes', values: [0] },
    ],
  });
  const g = await openGraph(model, { threads: 1, label: 'test ops' });
  const x = noise([1, 2, 3, 4], 5);
  const out = await g.run({ x: { dtype: 'float32', data: x.data, shape: x.shape }, shape: { dtype: 'int64', data: BigInt64Array.from([3n, 2n, 3n, 4n]), shape: [4] } }, ['y', 'z']);
  assert.deepEqual(out.y!.shape, [3, 2, 3, 4]);
  for (let b = 0; b < 3; b++) assert.deepEqual(out.y!.data.subarray(b * 24, (b + 1) * 24), x.data);
  assert.deepEqual(out.z!.data, x.data);
  assert.equal(trafficSoFar().graphs['test ops']!.runs, 1);
  await g.release();
});

test('on WebGPU the outputs asked for stay on the device; a kept name the graph lacks is left to the port checks', async () => {
  const model = onnxModel({
    inputs: [{ name: 'x', type: 'float32', shape: ['n'] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['n'] }, { name: 'z', type: 'float32', shape: ['n'] }],
    nodes: [
      { op: 'Identity', inputs: ['x'], outputs: ['y'] },
      { op: 'Neg', inputs: ['x'], outputs: ['z'] },
    ],
  });
  const g = await openGraph(model, { device: 'webgpu', keepOnDevice: ['y', 'k.0'] });
  assert.deepEqual([...g.deviceOutputs], ['y']);
  const x = { dtype: 'float32' as const, data: Float32Array.from([1, 2, 3]), shape: [3] };
  const out = await g.runKeeping({ x }, ['y', 'z']);
  assert.ok(onDevice(out.y!) && !onDevice(out.z!));
  assert.deepEqual(out.z, { data: Float32Array.from([-1, -2, -3]), shape: [3] });
  // a device tensor feeds another run on the device as it is
  const again = await g.runKeeping({ x: out.y as DeviceTensor }, ['z']);
  assert.deepEqual([...(again.z as { data: Float32Array }).data], [-1, -2, -3]);
  await assert.rejects(g.run({ x }, ['y']), /stay on the device/);
  (out.y as DeviceTensor).dispose();
  await g.release();
});

/** Invert 6 midpoint steps, then edit sharing layers 1 and 2 for every step, on `device`. */
async function editOn(dir: string, device: 'cpu' | 'webgpu', keepOnDevice = true): Promise<{ z: Float32Array; traffic: Traffic; calls: number }> {
  const pack = await loadPack(dir, { threads: 1, device, keepOnDevice });
  try {
    const z0 = noise([1, 4, 1, 16, 16], 9);
    const inv = await invertLatent(pack, z0, { sourcePrompt: 'a red circle', steps: 6, solver: 'midpoint' });
    resetTraffic();
    const ed = await editLatent(pack, inv, { targetPrompt: 'a blue square', guidance: 2, share: { layers: [1, 2], fraction: 1 } });
    return { z: ed.z.data, traffic: trafficSoFar(), calls: ed.calls };
  } finally {
    await pack.release();
  }
}

test('WebGPU edits as the CPU does, and keeping keys/values and constant inputs on the device saves their bytes', { timeout: 240_000 }, async () => {
  const cpu = await editOn(TINY, 'cpu');
  const kept = await editOn(TINY, 'webgpu', true);
  const through = await editOn(TINY, 'webgpu', false);
  assert.ok(maxAbsDiff(kept.z, cpu.z) < 1e-4, `webgpu vs cpu ${maxAbsDiff(kept.z, cpu.z)}`);
  assert.ok(maxAbsDiff(through.z, cpu.z) < 1e-4, `webgpu (host context) vs cpu ${maxAbsDiff(through.z, cpu.z)}`);
  assert.deepEqual([cpu.traffic.hostToDevice, cpu.traffic.deviceToHost], [0, 0], 'the CPU moves nothing between host and device');
  // Through the host, every two-path call sends the latents out ([B, 4, 1, 16, 16], B = 1 and 2 on
  // the two paths) and brings the velocities back, and the reconstruction's k, v of 2 layers
  // ([1, h, S, d] = [1, 2, 8 + 64, 16]) come back and go out again twice (the edit path's batch of 2).
  // Kept, the state, velocities and keys/values stay on the device: what comes back is the text
  // encoders' output (both ways alike) and the final latent, once.
  const stages = kept.calls / 2;
  const n = 4 * 16 * 16;
  const kv = 2 * 2 * 2 * (8 + 64) * 16 * 4; // 2 layers × (k, v) × [1, 2, 72, 16] × 4 bytes
  const text = (1 + 2) * 8 * 32 * 4; // the two prompts' embeddings, [1, 8, 32] and [2, 8, 32]
  assert.equal(kept.traffic.deviceToHost, text + n * 4);
  assert.equal(through.traffic.deviceToHost, text + stages * (kv + (1 + 2) * n * 4));
  // what still goes out each call: t, the solver's step sizes and the guidance scale, the batch operations' shape vectors
  assert.ok(through.traffic.hostToDevice > stages * (2 * kv + (1 + 2) * n * 4), String(through.traffic.hostToDevice));
  assert.ok(kept.traffic.hostToDevice < n * 4 + 5000 + stages * 512, `${kept.traffic.hostToDevice} bytes to the device`);
  assert.equal(kept.traffic.graphs['device download/float32/5']!.runs, 1, 'one latent came back: the result');
  console.log(`tiny fixture, 6 midpoint steps: per edit step ${through.traffic.hostToDevice / 6} → ${kept.traffic.hostToDevice / 6} bytes to the device, ${through.traffic.deviceToHost / 6} → ${kept.traffic.deviceToHost / 6} back`);
});

test('a float16 pack on WebGPU: float16 keys/values stay on the device and the edit matches the CPU', { timeout: 240_000 }, async () => {
  const cpu = await editOn(TINY_F16, 'cpu');
  const gpu = await editOn(TINY_F16, 'webgpu');
  const f32 = await editOn(TINY, 'cpu');
  // float16 arithmetic differs between the two providers' kernels; both stay near the float32 edit
  const scale = maxAbsDiff(f32.z, new Float32Array(f32.z.length));
  assert.ok(maxAbsDiff(gpu.z, cpu.z) < 0.02 * scale, `float16 webgpu vs cpu ${maxAbsDiff(gpu.z, cpu.z)} (scale ${scale})`);
  assert.ok(maxAbsDiff(gpu.z, f32.z) < 0.02 * scale, `float16 webgpu vs float32 ${maxAbsDiff(gpu.z, f32.z)}`);
  assert.ok(gpu.traffic.graphs['device expand/float16/4']!.runs > 0, 'the float16 keys/values were repeated on the device');
});
