/**
 * python/device_train.sh refuses to resume a run folder into a run directory that holds another
 * run's files (they would be mixed into it), before it trains or writes anything.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../paths.js';

test('a RESUME folder is not copied over another run left in RUN_DIR', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'flowedit-device-'));
  try {
    const [resume, run, out] = [join(tmp, 'resume'), join(tmp, 'run'), join(tmp, 'out')] as const;
    mkdirSync(resume);
    writeFileSync(join(resume, 'latent_stats.json'), '{"shift": 0, "scale": 1}');
    mkdirSync(run);
    writeFileSync(join(run, 'dit.pt'), 'another run');
    const r = spawnSync('sh', [join(ROOT, 'python', 'device_train.sh')], {
      env: { ...process.env, RESUME: resume, RUN_DIR: run, OUT: out, PYTHON: '/bin/false' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /already holds a run: give RUN_DIR an empty or new folder/);
    assert.equal(readFileSync(join(run, 'dit.pt'), 'utf8'), 'another run', 'the other run is left as it was');
    assert.equal(existsSync(join(run, 'latent_stats.json')), false, 'nothing was copied in');
    assert.equal(existsSync(out), false, 'nothing was written to OUT');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
