/** The flowedit command line, run as a user runs it: a child process, and how a failure must look. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, TINY } from '../paths.js';

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

type OnStderr = (stderr: string, kill: (sig: NodeJS.Signals) => void) => void;

/** Runs `flowedit args`; `onStderr` sees all of stderr so far and may signal the process. */
export function flowedit(args: readonly string[], onStderr?: OnStderr, env?: NodeJS.ProcessEnv): Promise<Result> {
  return nodeScript(CLI, args, onStderr, env);
}

/** Runs a Node script of the project (the CLI, a benchmark) as a child process. */
export function nodeScript(script: string, args: readonly string[], onStderr?: OnStderr, env?: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, (sig) => child.kill(sig));
    });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A failure is one clear message, a non-zero exit and no stack trace. */
export function assertCleanFailure(r: Result, message: RegExp): void {
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

/**
 * A copy of the tiny pack in `dir` whose transformer is not ONNX: loading it fails, so a command
 * run on it passes a check only if the check comes before the pack loads.
 */
export async function brokenPack(dir: string): Promise<string> {
  const pack = join(dir, 'broken-pack');
  await cp(TINY, pack, { recursive: true });
  await writeFile(join(pack, 'transformer.onnx'), 'these bytes are no ONNX model');
  return pack;
}
