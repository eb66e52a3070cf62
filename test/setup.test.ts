/** Setting up and testing the project: README's commands, npm's configuration, the suite's runner. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, tempDir } from './paths.js';

const exec = promisify(execFile);

/** The apt-get install lines of a text: their flags and their packages. */
function aptInstalls(text: string): { flags: string[]; packages: string[] }[] {
  return [...text.matchAll(/apt-get ((?:[^&\n]*?)install[^&\n>]*)/g)].map((m) => {
    const words = m[1]!.replace(/"\$\{apt_wait\[@\]\}"/g, '-o DPkg::Lock::Timeout=600').trim().split(/\s+/);
    const flags: string[] = [];
    const packages: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      if (w === 'install') continue;
      if (w === '-o') flags.push(`-o ${words[++i]}`);
      else if (w.startsWith('-')) flags.push(w);
      else packages.push(w);
    }
    return { flags: flags.filter((f) => f !== '-qq').sort(), packages: packages.sort() };
  });
}

test("README's test command installs what .ci/run installs, without recommended packages, waiting for apt's lock", async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const ci = await readFile(join(ROOT, '.ci/run'), 'utf8');
  const [fromReadme, fromCi] = [aptInstalls(readme), aptInstalls(ci)];
  assert.equal(fromReadme.length, 1, 'one apt-get install in README.md');
  assert.equal(fromCi.length, 1, 'one apt-get install in .ci/run');
  assert.deepEqual(fromReadme[0], fromCi[0]);
  assert.ok(fromCi[0]!.flags.includes('--no-install-recommends'));
  assert.ok(fromCi[0]!.flags.includes('-o DPkg::Lock::Timeout=600'));
  for (const text of [readme, ci]) {
    for (const update of text.match(/apt-get [^&\n]*update/g) ?? []) assert.match(update, /DPkg::Lock::Timeout|apt_wait/, update);
  }
});

test("README's test command makes the Python environment as .ci/run does, and python/setup.sh stops in one line, installing nothing, where there is no local package index", async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const ci = await readFile(join(ROOT, '.ci/run'), 'utf8');
  assert.match(ci, /^python\/setup\.sh$/m);
  assert.match(readme, /&& python\/setup\.sh && ONNXRUNTIME_NODE_INSTALL=skip npm ci && npm test/);
  const venv = join(await tempDir('flowedit-venv-'), 'venv');
  const env = { ...process.env, PIP_CONFIG_FILE: '/dev/null', FLOWEDIT_VENV: venv };
  const failed = await exec(join(ROOT, 'python/setup.sh'), [], { env }).then(
    () => assert.fail('python/setup.sh succeeded without a package index'),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  assert.equal(failed.code, 1);
  assert.equal(failed.stdout, '');
  assert.equal(failed.stderr.trim().split('\n').length, 1, failed.stderr);
  assert.match(failed.stderr, /no local package index found .* nothing was installed/);
  await assert.rejects(readFile(join(venv, 'bin/python')), 'no environment was made');
});

test('npm runs in this project without warning about its configuration', async () => {
  const { stderr } = await exec('npm', ['config', 'list'], { cwd: ROOT });
  assert.doesNotMatch(stderr, /npm warn/i);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false, "onnxruntime-node's CUDA download is not run");
});

function runner(dir: string, limitMs: number): Promise<{ code: number | null; out: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // this file runs under the runner; the one started here must not think it is nested
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`--test-timeout=${limitMs}`, join(ROOT, 'dist/test/run-tests.js'), dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

test("the suite's time limit is per test: a file longer than the limit passes, a test longer than it fails", async () => {
  const sleepy = (ms: number[]) =>
    `import { test } from 'node:test';\n` + ms.map((t, i) => `test('sleeps ${t} ms (${i})', () => new Promise((r) => setTimeout(r, ${t})));\n`).join('');
  const long = await tempDir('flowedit-runner-');
  await writeFile(join(long, 'long.test.js'), sleepy([1200, 1200])); // 2.4 s in all, each test under the 2 s limit
  await writeFile(join(long, 'helper.js'), 'throw new Error("not a test file");\n');
  const passed = await runner(long, 2000);
  assert.equal(passed.code, 0, passed.out);
  assert.match(passed.out, /# pass 2/);

  const stuck = await tempDir('flowedit-runner-');
  await writeFile(join(stuck, 'stuck.test.js'), sleepy([200, 60_000]));
  const failed = await runner(stuck, 2000);
  assert.equal(failed.code, 1, failed.out);
  assert.match(failed.out, /no test started or ended for 2 s while running 'sleeps 60000 ms \(1\)' \(.*stuck\.test\.js\)/);
});
