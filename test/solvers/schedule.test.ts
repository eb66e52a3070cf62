import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FLUX_RESOLUTION_SHIFT,
  inversionSchedule,
  resolutionShift,
  shiftTime,
  timesteps,
} from '../../src/solvers/schedule.js';

test('shiftTime: shift 1 is the identity and endpoints are fixed', () => {
  for (const t of [0, 0.1, 0.25, 0.5, 0.9, 1]) assert.equal(shiftTime(t, 1), t);
  for (const s of [0.3, 2, 3, 7.5]) {
    assert.equal(shiftTime(0, s), 0);
    assert.ok(Math.abs(shiftTime(1, s) - 1) < 1e-12);
  }
  // shift 3 at t = 0.5: 1.5 / 2 = 0.75
  assert.ok(Math.abs(shiftTime(0.5, 3) - 0.75) < 1e-12);
});

test('shiftTime: rejects a non-positive shift', () => {
  assert.throws(() => shiftTime(0.5, 0), /Expected a positive finite shift but received 0/);
  assert.throws(() => shiftTime(0.5, -2), /received -2/);
  assert.throws(() => shiftTime(0.5, Number.NaN), /received NaN/);
});

test('timesteps: endpoints exact, length steps + 1, strictly descending', () => {
  for (const shift of [1, 0.5, 3, 10]) {
    for (const steps of [1, 2, 7, 28, 50]) {
      const ts = timesteps(steps, shift);
      assert.equal(ts.length, steps + 1);
      assert.equal(ts[0], 1);
      assert.equal(ts[steps], 0);
      for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! < ts[i - 1]!, `shift ${shift} steps ${steps} at ${i}`);
    }
  }
  assert.deepEqual(timesteps(4), [1, 0.75, 0.5, 0.25, 0]);
});

test('timesteps: shift > 1 moves interior points toward 1, shift < 1 toward 0', () => {
  const plain = timesteps(10);
  const up = timesteps(10, 3);
  const down = timesteps(10, 0.5);
  for (let i = 1; i < 10; i++) {
    assert.ok(up[i]! > plain[i]!, `index ${i}`);
    assert.ok(down[i]! < plain[i]!, `index ${i}`);
  }
});

test('timesteps: rejects bad step counts and shifts', () => {
  assert.throws(() => timesteps(0), { message: 'Expected a positive integer for steps but received 0' });
  assert.throws(() => timesteps(2.5), /Expected a positive integer for steps but received 2.5/);
  assert.throws(() => timesteps(-3), /received -3/);
  assert.throws(() => timesteps(4, 0), /Expected a positive finite shift but received 0/);
});

test('resolutionShift: exp(baseShift) and exp(maxShift) at the anchors, log-linear between', () => {
  const p = FLUX_RESOLUTION_SHIFT;
  assert.ok(Math.abs(resolutionShift(256, p) - Math.exp(0.5)) < 1e-12);
  assert.ok(Math.abs(resolutionShift(4096, p) - Math.exp(1.15)) < 1e-12);
  const mid = resolutionShift((256 + 4096) / 2, p);
  assert.ok(Math.abs(mid - Math.exp((0.5 + 1.15) / 2)) < 1e-12);
  const custom = { baseShift: 0.2, maxShift: 2, baseTokens: 100, maxTokens: 1000 };
  assert.ok(Math.abs(resolutionShift(100, custom) - Math.exp(0.2)) < 1e-12);
  assert.ok(Math.abs(resolutionShift(1000, custom) - Math.exp(2)) < 1e-12);
  // 1024x1024 FLUX image: 64x64 packed tokens = 4096, the max anchor.
  assert.ok(resolutionShift(1024, p) > resolutionShift(256, p));
});

test('resolutionShift: equals FLUX time_shift(mu, 1, t) through shiftTime', () => {
  const mu = 0.5 + ((1.15 - 0.5) / (4096 - 256)) * (1024 - 256);
  const fluxTimeShift = (t: number) => Math.exp(mu) / (Math.exp(mu) + (1 / t - 1));
  const s = resolutionShift(1024, FLUX_RESOLUTION_SHIFT);
  for (const t of [0.1, 0.3, 0.5, 0.8, 0.95]) {
    assert.ok(Math.abs(shiftTime(t, s) - fluxTimeShift(t)) < 1e-12, `t = ${t}`);
  }
});

test('resolutionShift: rejects degenerate anchors', () => {
  assert.throws(
    () => resolutionShift(10, { baseShift: 0.5, maxShift: 1, baseTokens: 5, maxTokens: 5 }),
    /Expected maxTokens to differ from baseTokens but received 5/,
  );
  assert.throws(() => resolutionShift(Number.NaN, FLUX_RESOLUTION_SHIFT), /tokens but received NaN/);
});

test('inversionSchedule: reversed copy, input untouched', () => {
  const ts = timesteps(5, 3);
  const before = [...ts];
  const inv = inversionSchedule(ts);
  assert.deepEqual(inv, [...before].reverse());
  assert.deepEqual(ts, before);
  assert.notEqual(inv, ts);
  assert.equal(inv[0], 0);
  assert.equal(inv[inv.length - 1], 1);
});
