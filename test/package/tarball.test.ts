/**
 * The package as a user gets it: `npm pack`, the tarball installed into an empty folder, and
 * flowedit run from there (--version, an edit on the built-in pack, a library import).
 *
 * The install takes every dependency at the version package-lock.json holds, by its checksum, so
 * npm reads it from its cache where it is there (as after `npm ci` on a fresh machine: the cache
 * then holds exactly those tarballs and no registry metadata) and asks the registry for nothing
 * else. onnxruntime-node's own download of CUDA libraries is skipped as docs/library.md tells
 * users to (ONNXRUNTIME_NODE_INSTALL=skip).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { builtinPresetDir } from '../../src/jobs/presets.js';
import { imageSize } from '../../src/media/image.js';
import { builtinPackDir } from '../../src/model/builtin.js';
import { builtinCalibration, readCalibration } from '../../src/vital/calibration.js';
import { ROOT, SAMPLE, tempDir } from '../paths.js';

const exec = promisify(execFile);

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string }[];
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  [key: string]: unknown;
}

interface Lockfile {
  packages: Record<string, LockEntry>;
}

interface RootEntry {
  version: string;
  license: string;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
}

/** The tarball must stay under this many bytes. */
const LIMIT = 16_000_000;

/** Development-only things that must not ride along. */
const LEFT_OUT = ['dist/test/', 'dist/bench/', 'test/', 'python/', 'bench/', 'scenes/heldout/', 'docs/lab/', 'src/', '.ci/'];

/** The environment npm and flowedit run in: this process's, less what `npm test` adds, the CUDA download off, an empty configuration folder. */
function environment(home: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'NODE_TEST_CONTEXT'));
  return { ...env, ONNXRUNTIME_NODE_INSTALL: 'skip', FLOWEDIT_HOME: home, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** What the runtime reads from the package root: the built-in pack, the presets, the built-in calibration sets and the world they name. */
async function runtimeFiles(): Promise<string[]> {
  const files = [...(await filesUnder(builtinPackDir())), ...(await filesUnder(builtinPresetDir()))];
  for (const seed of [0, 1]) {
    const cal = await readCalibration(builtinCalibration(seed));
    files.push(cal.file, ...(cal.world ? [cal.world] : []));
    for (const c of cal.cases) files.push(c.input, ...[c.mask, c.expected, c.check?.mask].filter((p): p is string => typeof p === 'string'));
  }
  return files.map((f) => relative(ROOT, f).split(sep).join('/'));
}

/** The compiled library and command line: every src/**\/*.ts as dist/src/**\/*.js and .d.ts. */
async function compiledFiles(): Promise<string[]> {
  const sources = (await filesUnder(join(ROOT, 'src'))).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  return sources.flatMap((f) => {
    const rel = relative(ROOT, f).split(sep).join('/').replace(/\.ts$/, '');
    return [`dist/${rel}.js`, `dist/${rel}.d.ts`];
  });
}

/** A project that depends on the tarball alone, locked to the versions of flowedit's own lockfile. */
async function consumer(dir: string, tarball: string, lock: Lockfile): Promise<string> {
  const app = join(dir, 'app');
  await mkdir(app);
  const spec = `file:../${tarball}`;
  const own = lock.packages[''] as unknown as RootEntry;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { flowedit: spec } },
    'node_modules/flowedit': { version: own.version, resolved: spec, license: own.license, dependencies: own.dependencies, bin: own.bin, engines: own.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && entry.dev !== true) packages[path] = entry;
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, dependencies: { flowedit: spec } }, null, 2));
  await writeFile(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }, null, 2));
  return app;
}

test('the packed tarball holds what a user runs, installs into an empty folder, and runs an edit and a library import from there', { timeout: 300_000 }, async (t) => {
  const dir = await tempDir('flowedit-package-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const home = join(dir, 'home');
  const env = environment(home);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile;

  // every dependency pinned to the version the lockfile holds (a range would let an install resolve another)
  for (const [name, range] of Object.entries(pkg.dependencies)) assert.equal(range, lock.packages[`node_modules/${name}`]?.version, `dependency ${name}`);

  // 1. the tarball (dist is built already: the test runs from it)
  const packed = JSON.parse((await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env, maxBuffer: 64 << 20 })).stdout) as Packed[];
  const { filename, size, entryCount, files } = packed[0]!;
  t.diagnostic(`tarball ${(size / 1e6).toFixed(1)} MB, ${entryCount} files, ${(packed[0]!.unpackedSize / 1e6).toFixed(1)} MB unpacked`);
  assert.ok(size < LIMIT, `the tarball is ${size} bytes, over ${LIMIT}`);
  const paths = new Set(files.map((f) => f.path));
  const stray = [...paths].filter((p) => LEFT_OUT.some((prefix) => p.startsWith(prefix)) || p.endsWith('.map'));
  assert.deepEqual(stray, [], 'no tests, fixtures, benchmarks, Python, held-out scenes or source maps');
  const wanted = ['package.json', 'README.md', 'LICENSE', ...(await compiledFiles()), ...(await runtimeFiles())];
  assert.deepEqual(wanted.filter((p) => !paths.has(p)), [], 'every compiled module and every file the runtime reads from the package root');

  // 2. installed into an empty folder
  const app = await consumer(dir, filename, lock);
  await exec('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, env, maxBuffer: 64 << 20 });
  const installed = join(app, 'node_modules', 'flowedit');
  const ortBin = join(app, 'node_modules/onnxruntime-node/bin/napi-v6', process.platform, process.arch);
  assert.ok(!(await readdir(ortBin)).some((f) => f.includes('providers_cuda')), 'onnxruntime-node fetched no CUDA provider');

  // 3. the command line from there: its own version (not the folder's package.json), an edit on the built-in pack
  const bin = join(app, 'node_modules/.bin/flowedit');
  const run = (args: string[]) => exec(bin, args, { cwd: app, env });
  assert.equal((await run(['--version'])).stdout.trim(), pkg.version);
  assert.match((await run(['models', 'list'])).stdout, new RegExp(`^\\s+${join(installed, 'models/flowedit-tiny').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), 'the built-in pack is the installed one');
  await copyFile(SAMPLE, join(app, 'in.png'));
  const edit = await run(['edit', 'in.png', '--source-prompt', 'a red circle on stripes', '--target-prompt', 'a blue circle on stripes', '--steps', '2', '-o', 'out.png']);
  assert.match(edit.stderr, /wrote out\.png/);
  const [src, out] = [await imageSize(SAMPLE), await imageSize(join(app, 'out.png'))];
  assert.deepEqual([out.width, out.height, out.format], [src.width, src.height, 'png']);
  assert.deepEqual(await readdir(app).then((names) => names.filter((n) => n !== 'node_modules').sort()), ['in.png', 'out.png', 'package-lock.json', 'package.json'], 'nothing else written');
  assert.equal(await stat(home).then(() => 'made', () => 'absent'), 'absent', 'an edit writes nothing into the configuration folder');

  // 4. the library from there: its exports map, the built-in pack and a preset read from the installed package
  const script = `
    const m = await import('flowedit');
    const names = ['loadPack', 'readPack', 'invertImage', 'editImage', 'swapImage', 'findPreset'];
    const pack = await m.readPack(m.builtinPackDir());
    const preset = await m.findPreset('recolor');
    const { default: own } = await import('flowedit/package.json', { with: { type: 'json' } });
    const deep = await import('flowedit/dist/src/index.js').then(() => 'imported', (e) => e.code);
    console.log(JSON.stringify({ kinds: names.map((n) => typeof m[n]), pack: pack.dir, id: pack.manifest.id, preset: preset.file, version: own.version, deep }));`;
  const lib = JSON.parse((await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env })).stdout) as Record<string, unknown>;
  assert.deepEqual(lib, {
    kinds: ['function', 'function', 'function', 'function', 'function', 'function'],
    pack: join(installed, 'models/flowedit-tiny'),
    id: (JSON.parse(await readFile(join(builtinPackDir(), 'manifest.json'), 'utf8')) as { id: string }).id,
    preset: join(installed, 'presets/recolor.yaml'),
    version: pkg.version,
    deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
  });
});
