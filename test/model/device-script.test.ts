/**
 * python/device_train.sh refuses to resume a run folder into a run directory that holds another
 * run's files (they would be mixed into it), before it trains or writes anything; without RUN_DIR,
 * each call trains in a new folder of its own, so two runs one after the other both go through.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

/** A stand-in for python3 that trains nothing: it notes the run folder train.py was given and
 * leaves there the files the script brings back. */
const FAKE_TRAINER = `#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = --run ] && run="$2"; shift; done
echo "$run" >> "$RUNS_SEEN"
for f in vae.pt latent_stats.json dit-ema.pt log.jsonl; do echo "$run" > "$run/$f"; done
`;

test('without RUN_DIR, each call trains in a new folder, so a second resumed run on the same machine goes through', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'flowedit-device-'));
  try {
    const resume = join(tmp, 'resume');
    mkdirSync(resume);
    writeFileSync(join(resume, 'latent_stats.json'), '{"shift": 0, "scale": 1}');
    const trainer = join(tmp, 'fake-python');
    writeFileSync(trainer, FAKE_TRAINER);
    chmodSync(trainer, 0o755);
    const seen = join(tmp, 'runs-seen');
    const runsDir = join(tmp, 'tmp');
    mkdirSync(runsDir);
    for (const out of ['out1', 'out2']) {
      const r = spawnSync('sh', [join(ROOT, 'python', 'device_train.sh')], {
        env: { ...process.env, RESUME: resume, OUT: join(tmp, out), PYTHON: trainer, RUNS_SEEN: seen, TMPDIR: runsDir, RUN_DIR: '' },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /run folder: /);
    }
    const runs = readFileSync(seen, 'utf8').trim().split('\n');
    assert.equal(runs.length, 2);
    assert.notEqual(runs[0], runs[1], 'the second call trained in a folder of its own');
    assert.equal(readdirSync(runsDir).length, 2, 'both folders were made under TMPDIR');
    for (const [i, out] of ['out1', 'out2'].entries()) {
      assert.equal(readFileSync(join(tmp, out, 'run', 'dit-ema.pt'), 'utf8').trim(), runs[i], 'each call brought back its own run');
      assert.equal(readFileSync(join(tmp, out, 'run', 'latent_stats.json'), 'utf8').trim(), runs[i]);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
