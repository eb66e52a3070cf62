/**
 * Helpers for the preload tests: a copy of the tiny pack whose manifest is a named pipe, so its load
 * waits until the test opens the gate, and reads the manifest once (a second load of the same copy
 * would wait for ever); and a pool task that says which pack it got and how long it waited for it.
 */
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { cp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineTask, type PackRef } from '../../src/jobs/pool-task.js';
import type { LoadedPack } from '../../src/model/pack.js';
import { TINY } from '../paths.js';

export interface GatedPack {
  readonly dir: string;
  /** lets one load read the manifest */
  open(): Promise<void>;
  /** ends a second read waiting on the pipe (it gets no manifest and fails), if one waits */
  unblock(): Promise<void>;
}

export async function gatedPack(parent: string): Promise<GatedPack> {
  const dir = join(parent, 'gated-pack');
  await cp(TINY, dir, { recursive: true });
  const manifest = join(dir, 'manifest.json');
  const text = await readFile(manifest);
  await rm(manifest);
  execFileSync('mkfifo', [manifest]);
  return {
    dir,
    open: () => writeFile(manifest, text),
    async unblock() {
      // a non-blocking open for writing fails (ENXIO) when no reader waits
      const fh = await open(manifest, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => null);
      await fh?.close();
    },
  };
}

/** Rejects after `ms`: the tests' bound on a wait that only a regression makes endless. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const seen = new WeakMap<LoadedPack, number>();
let packs = 0;

/** Answers with the pack it ran on (numbered in the order this worker first saw them) and the seconds it waited for its load. */
export const probeTask = defineTask<PackRef, { pack: number; loadSeconds: number }, never>(import.meta.url, 'probeTask', async (pack, _input, run) => {
  if (!seen.has(pack)) seen.set(pack, ++packs);
  return { pack: seen.get(pack)!, loadSeconds: run.loadSeconds };
});
