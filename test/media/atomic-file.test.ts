import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertWritable, removeTempFiles, tempPathFor, writeFileAtomic } from '../../src/media/atomic-file.js';
import { tempDir } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir: root, cleanup } = await tempDir());
});
after(async () => {
  await cleanup();
});

let counter = 0;
async function freshDir(): Promise<string> {
  const dir = join(root, `case-${counter++}`);
  await mkdir(dir);
  return dir;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * A directory this process cannot create files in: a read-only folder for ordinary users; for
 * root, whom permission bits do not stop, the sysfs root (Linux refuses new files there).
 */
async function unwritableDir(): Promise<string> {
  if (isRoot) return '/sys';
  const dir = await freshDir();
  await chmod(dir, 0o555);
  return dir;
}

describe('writeFileAtomic', () => {
  it('writes a new file and leaves no temporary file', async () => {
    const dir = await freshDir();
    const path = join(dir, 'out.png');
    await writeFileAtomic(path, Buffer.from('hello'));
    assert.equal(await readFile(path, 'utf8'), 'hello');
    assert.deepEqual(await readdir(dir), ['out.png']);
  });

  it('accepts a Uint8Array', async () => {
    const dir = await freshDir();
    const path = join(dir, 'bytes.bin');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepEqual(new Uint8Array(await readFile(path)), new Uint8Array([1, 2, 3]));
  });

  it('replaces an existing file and keeps its permissions', async () => {
    const dir = await freshDir();
    const path = join(dir, 'out.txt');
    await writeFile(path, 'old contents that are longer');
    await chmod(path, 0o640);
    await writeFileAtomic(path, Buffer.from('new'));
    assert.equal(await readFile(path, 'utf8'), 'new');
    assert.equal((await stat(path)).mode & 0o777, 0o640);
    assert.deepEqual(await readdir(dir), ['out.txt']);
  });

  it('replaces atomically: concurrent readers see the old or the new file, whole', async () => {
    const dir = await freshDir();
    const path = join(dir, 'big.bin');
    const size = 4 * 1024 * 1024;
    await writeFile(path, Buffer.alloc(size, 'a'));
    const writing = (async () => {
      for (const fill of ['b', 'c', 'd']) await writeFileAtomic(path, Buffer.alloc(size, fill));
    })();
    let done = false;
    void writing.finally(() => {
      done = true;
    });
    const seen = new Set<string>();
    while (!done) {
      const data = await readFile(path);
      assert.equal(data.length, size);
      const first = data[0] as number;
      assert.ok(data.every((b) => b === first), 'file is never partially written');
      seen.add(String.fromCharCode(first));
    }
    await writing;
    assert.equal((await readFile(path)).toString('latin1', 0, 1), 'd');
    assert.ok(seen.size >= 1);
    assert.deepEqual(await readdir(dir), ['big.bin']);
  });

  it('removes the temporary file when writing fails, and keeps the old file', async () => {
    const dir = await freshDir();
    const path = join(dir, 'keep.txt');
    await writeFile(path, 'original');
    await assert.rejects(writeFileAtomic(path, 42 as unknown as Buffer), (err: Error) => {
      assert.ok(err.message.startsWith(`Cannot write ${path}: `), err.message);
      assert.ok(err.cause instanceof Error);
      return true;
    });
    assert.deepEqual(await readdir(dir), ['keep.txt']);
    assert.equal(await readFile(path, 'utf8'), 'original');
  });

  it('reports a missing directory clearly', async () => {
    const dir = join(root, 'missing-dir');
    const path = join(dir, 'out.png');
    await assert.rejects(writeFileAtomic(path, Buffer.from('x')), {
      message: `Cannot write ${path}: directory ${dir} does not exist`,
    });
  });

  it('refuses to replace a directory', async () => {
    const dir = await freshDir();
    const path = join(dir, 'sub');
    await mkdir(path);
    await assert.rejects(writeFileAtomic(path, Buffer.from('x')), { message: `Cannot write ${path}: it is a directory` });
    assert.deepEqual(await readdir(dir), ['sub']);
  });

  it('reports an unwritable directory clearly', async () => {
    const dir = await unwritableDir();
    try {
      const path = join(dir, 'out.png');
      await assert.rejects(writeFileAtomic(path, Buffer.from('x')), {
        message: `Cannot write ${path}: directory ${dir} is not writable`,
      });
    } finally {
      if (!isRoot) await chmod(dir, 0o755);
    }
  });
});

describe('assertWritable', () => {
  it('accepts a new file in an existing directory, and an existing file', async () => {
    const dir = await freshDir();
    await assertWritable(join(dir, 'new.png'));
    await writeFile(join(dir, 'old.png'), 'x');
    await assertWritable(join(dir, 'old.png'));
  });

  it('rejects a missing directory', async () => {
    const dir = join(root, 'not-there', 'deeper');
    const path = join(dir, 'out.png');
    await assert.rejects(assertWritable(path), { message: `Cannot write ${path}: directory ${dir} does not exist` });
  });

  it('rejects a path that is a directory', async () => {
    const dir = await freshDir();
    await assert.rejects(assertWritable(dir), { message: `Cannot write ${dir}: it is a directory` });
  });

  it('rejects a parent that is a file', async () => {
    const dir = await freshDir();
    const file = join(dir, 'file.txt');
    await writeFile(file, 'x');
    const path = join(file, 'out.png');
    await assert.rejects(assertWritable(path), { message: `Cannot write ${path}: ${file} is not a directory` });
  });

  it('rejects an unwritable directory', async () => {
    const dir = await unwritableDir();
    try {
      const path = join(dir, 'out.png');
      await assert.rejects(assertWritable(path), { message: `Cannot write ${path}: directory ${dir} is not writable` });
    } finally {
      if (!isRoot) await chmod(dir, 0o755);
    }
  });
});

describe('assertWritable and a kill', () => {
  it('names its probe file as a temporary of the path, so a run killed mid-probe leaves nothing the next sweep keeps', async () => {
    const dir = await freshDir();
    const out = join(dir, 'out.png');
    const seen = new Set<string>();
    const watcher = watch(dir, (_event, name) => {
      if (name) seen.add(name.toString());
    });
    try {
      for (let i = 0; i < 3; i += 1) await assertWritable(out);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      watcher.close();
    }
    assert.ok(seen.size > 0, 'the probe files were seen being made');
    // what a kill between making and removing a probe would leave: every one of them, put back
    for (const name of seen) await writeFile(join(dir, name), '');
    assert.equal(await removeTempFiles(out), seen.size, `probe names ${[...seen].join(', ')}`);
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('removeTempFiles', () => {
  it('removes the temporaries of one output and nothing else', async () => {
    const dir = join(root, 'sweep');
    await mkdir(dir);
    const out = join(dir, 'clip.mp4');
    const mine = [tempPathFor(out), tempPathFor(out)];
    const others = [join(dir, 'clip.mp4'), tempPathFor(join(dir, 'other.mp4')), join(dir, '.clip.mp4.notes.tmp'), join(dir, '.clip.mp4.0123456789ab.tmp.keep')];
    for (const f of [...mine, ...others]) await writeFile(f, 'x');
    assert.equal(await removeTempFiles(out), 2);
    assert.deepEqual((await readdir(dir)).sort(), others.map((f) => f.slice(dir.length + 1)).sort());
  });
});
