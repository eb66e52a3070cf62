import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SOLVERS,
  isSolverName,
  modelCallsFor,
  solve,
  type SolverName,
  type StageInfo,
  type StepEvent,
  type VelocityFn,
} from '../../src/solvers/solvers.js';
import { inversionSchedule, timesteps } from '../../src/solvers/schedule.js';

/** A smooth nonlinear field used where the exact values do not matter. */
function wavy(x: Float32Array, t: number, _at?: StageInfo): Float32Array {
  const out = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) out[j] = Math.sin(x[j]! + t) - 0.5 * x[(j + 1) % x.length]!;
  return out;
}

test('SOLVERS and isSolverName', () => {
  assert.deepEqual([...SOLVERS], ['euler', 'midpoint', 'fireflow']);
  for (const s of SOLVERS) assert.ok(isSolverName(s));
  assert.ok(!isSolverName('heun'));
  assert.ok(!isSolverName(''));
});

test('every solver is exact on a constant velocity field, both directions', async () => {
  const c = Float32Array.from([0.5, -1.25, 2, 0, -0.125]);
  const constant: VelocityFn = () => c;
  const x0 = Float32Array.from([0.1, 0.2, -0.3, 1, -2]);
  for (const solver of SOLVERS) {
    for (const ts of [timesteps(7), timesteps(13, 3), inversionSchedule(timesteps(9, 2.5))]) {
      const { x } = await solve(solver, constant, x0, ts);
      const span = ts[ts.length - 1]! - ts[0]!;
      for (let j = 0; j < x0.length; j++) {
        assert.ok(Math.abs(x[j]! - (x0[j]! + span * c[j]!)) < 1e-6, `${solver} component ${j}`);
      }
    }
  }
});

test('call counts: euler N, midpoint 2N, fireflow N + 1', async () => {
  const x0 = Float32Array.from([0.3, -0.7]);
  for (const steps of [1, 2, 5, 12]) {
    for (const solver of SOLVERS) {
      let count = 0;
      const v: VelocityFn = (x, t, at) => {
        count++;
        return wavy(x, t, at);
      };
      const r = await solve(solver, v, x0, timesteps(steps));
      assert.equal(r.calls, count);
      assert.equal(r.calls, modelCallsFor(solver, steps), `${solver} ${steps}`);
    }
    assert.equal(modelCallsFor('euler', steps), steps);
    assert.equal(modelCallsFor('midpoint', steps), 2 * steps);
    assert.equal(modelCallsFor('fireflow', steps), steps + 1);
  }
});

test('stage and step indices and times passed to the velocity', async () => {
  const ts = timesteps(4, 3);
  const x0 = Float32Array.from([0.5]);
  const record = async (solver: SolverName) => {
    const seen: Array<StageInfo & { t: number }> = [];
    await solve(solver, (x, t, at) => {
      seen.push({ ...at, t });
      return wavy(x, t, at);
    }, x0, ts);
    return seen;
  };
  const mid = (i: number) => (ts[i]! + ts[i + 1]!) / 2;

  assert.deepEqual(await record('euler'), [0, 1, 2, 3].map((i) => ({ step: i, stage: 0, t: ts[i]! })));

  const expectedMidpoint = [0, 1, 2, 3].flatMap((i) => [
    { step: i, stage: 0, t: ts[i]! },
    { step: i, stage: 1, t: mid(i) },
  ]);
  const gotMidpoint = await record('midpoint');
  assert.equal(gotMidpoint.length, expectedMidpoint.length);
  gotMidpoint.forEach((g, k) => {
    const e = expectedMidpoint[k]!;
    assert.equal(g.step, e.step);
    assert.equal(g.stage, e.stage);
    assert.ok(Math.abs(g.t - e.t) < 1e-12);
  });

  const expectedFireflow = [
    { step: 0, stage: 0, t: ts[0]! },
    ...[0, 1, 2, 3].map((i) => ({ step: i, stage: 1, t: mid(i) })),
  ];
  const gotFireflow = await record('fireflow');
  assert.equal(gotFireflow.length, expectedFireflow.length);
  gotFireflow.forEach((g, k) => {
    const e = expectedFireflow[k]!;
    assert.equal(g.step, e.step);
    assert.equal(g.stage, e.stage);
    assert.ok(Math.abs(g.t - e.t) < 1e-12);
  });
});

test('input is not mutated; trajectory and onStep report every step', async () => {
  const x0 = Float32Array.from([0.2, -0.4, 0.9]);
  const before = x0.slice();
  const ts = timesteps(6, 2);
  for (const solver of SOLVERS) {
    const events: Array<Omit<StepEvent, 'x'> & { x: Float32Array }> = [];
    const r = await solve(solver, wavy, x0, ts, {
      keepTrajectory: true,
      onStep: (e) => events.push({ ...e, x: e.x.slice() }),
    });
    assert.deepEqual(x0, before, solver);
    assert.notEqual(r.x, x0);
    const traj = r.trajectory;
    assert.ok(traj);
    assert.equal(traj.length, ts.length);
    assert.deepEqual(traj[0], x0);
    assert.notEqual(traj[0], x0);
    assert.deepEqual(traj[traj.length - 1], r.x);
    assert.notEqual(traj[traj.length - 1], r.x);
    assert.equal(events.length, 6);
    events.forEach((e, i) => {
      assert.equal(e.step, i);
      assert.equal(e.steps, 6);
      assert.equal(e.t, ts[i]);
      assert.equal(e.tNext, ts[i + 1]);
      assert.deepEqual(e.x, traj[i + 1]);
    });
    assert.equal(events[events.length - 1]!.calls, r.calls);
    const noTraj = await solve(solver, wavy, x0, ts);
    assert.equal(noTraj.trajectory, null);
    assert.deepEqual(noTraj.x, r.x);
  }
});

test('a callback that reuses its output buffer and scribbles on its input gives the same result', async () => {
  const x0 = Float32Array.from([0.2, -0.4, 0.9, 1.3]);
  const ts = timesteps(9, 3);
  for (const solver of SOLVERS) {
    const reference = await solve(solver, wavy, x0, ts);
    const out = new Float32Array(x0.length);
    const messy: VelocityFn = async (x, t, at) => {
      out.set(wavy(x, t, at));
      x.fill(Number.NaN);
      await Promise.resolve();
      return out;
    };
    const r = await solve(solver, messy, x0, ts);
    assert.deepEqual(r.x, reference.x, solver);
    // In-place: the callback overwrites its input with the velocity and returns it.
    const inPlace: VelocityFn = (x, t, at) => {
      x.set(wavy(x, t, at));
      return x;
    };
    const r2 = await solve(solver, inPlace, x0, ts);
    assert.deepEqual(r2.x, reference.x, solver);
  }
});

test('an aborted signal rejects with an AbortError', async () => {
  const x0 = Float32Array.from([1, 2]);
  for (const solver of SOLVERS) {
    const before = new AbortController();
    before.abort();
    let calls = 0;
    await assert.rejects(
      solve(solver, (x, t, at) => (calls++, wavy(x, t, at)), x0, timesteps(5), { signal: before.signal }),
      { name: 'AbortError' },
    );
    assert.equal(calls, 0);

    const during = new AbortController();
    calls = 0;
    await assert.rejects(
      solve(
        solver,
        (x, t, at) => {
          if (++calls === 3) during.abort();
          return wavy(x, t, at);
        },
        x0,
        timesteps(5),
        { signal: during.signal },
      ),
      { name: 'AbortError' },
    );
    assert.equal(calls, 3, solver);
  }
});

test('bad inputs give descriptive errors', async () => {
  const x0 = Float32Array.from([1, 2, 3]);
  await assert.rejects(
    solve('heun' as SolverName, wavy, x0, timesteps(3)),
    { message: 'Unknown solver "heun"; expected one of euler, midpoint, fireflow' },
  );
  await assert.rejects(solve('euler', wavy, x0, [1]), /Expected at least 2 timesteps but received 1/);
  await assert.rejects(solve('euler', wavy, x0, []), /Expected at least 2 timesteps but received 0/);
  await assert.rejects(solve('euler', wavy, x0, [1, 0.5, 0.5, 0]), /Expected strictly monotonic timesteps/);
  await assert.rejects(solve('euler', wavy, x0, [1, 0.5, 0.7, 0]), /Expected strictly monotonic timesteps/);
  await assert.rejects(solve('euler', wavy, x0, [0, 0.5, 0.2, 1]), /Expected strictly monotonic timesteps/);
  await assert.rejects(solve('euler', wavy, x0, [1, Number.NaN, 0]), /Expected finite timesteps/);
  await assert.rejects(solve('euler', wavy, x0, [1, 0.5, Number.NEGATIVE_INFINITY]), /Expected finite timesteps/);
  for (const solver of SOLVERS) {
    await assert.rejects(
      solve(solver, () => new Float32Array(2), x0, timesteps(3)),
      /expected a Float32Array of length 3 but received length 2/,
    );
  }
  await assert.rejects(
    solve('midpoint', (x, t, at) => (at.stage === 1 ? new Float32Array(5) : wavy(x, t, at)), x0, timesteps(3)),
    /step 0 stage 1.*expected a Float32Array of length 3 but received length 5/,
  );
  assert.throws(() => modelCallsFor('euler', 0), /Expected a positive integer for steps but received 0/);
  assert.throws(() => modelCallsFor('rk4' as SolverName, 4), /Unknown solver "rk4"; expected one of euler, midpoint, fireflow/);
});

test('project constrains the state after every step, before it is recorded', async () => {
  const ts = timesteps(4, 1);
  for (const solver of SOLVERS) {
    const seen: number[] = [];
    const result = await solve(solver, wavy, Float32Array.from([0.3, -0.7, 1.1]), ts, {
      keepTrajectory: true,
      project: (x, step, tNext) => {
        assert.equal(tNext, ts[step + 1]);
        seen.push(step);
        x[0] = tNext; // pin the first component to t
      },
    });
    assert.deepEqual(seen, [0, 1, 2, 3], solver);
    assert.deepEqual(result.trajectory!.slice(1).map((x) => x[0]), ts.slice(1).map((t) => Math.fround(t)), solver);
    assert.equal(result.x[0], 0);
  }
});
