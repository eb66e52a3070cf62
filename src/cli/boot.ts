/**
 * The first thing the command line does: a command that runs a model starts its inference worker
 * (jobs/worker-boot.ts) before the argument parser and the command's modules load. Once yargs has
 * accepted the arguments (main.ts's middleware), and when no flag or setting names another pack,
 * the worker starts loading the built-in pack on the CPU, the pack such a command runs on:
 * planWithWorker then finds it loading. A command line yargs refuses never starts a load, so it
 * exits at once. Imported first by main.ts, and light on purpose.
 */
import { resolve } from 'node:path';
import { builtinPackDirs } from '../model/builtin.js';
import { DEVICE_ENV } from '../model/devices.js';
import { bootPoolWorker, loadOnBootedWorker } from '../jobs/worker-boot.js';

/** Commands that run a model on an inference worker (cli/early-worker.ts). */
const MODEL_COMMANDS = new Set(['invert', 'reconstruct', 'edit', 'swap', 'generate']);
/** Flags with which those commands run no model. */
const NO_MODEL_FLAGS = new Set(['--help', '-h', '--version', '--print-config']);

const args = process.argv.slice(2);
if (MODEL_COMMANDS.has(args[0] ?? '') && !args.some((a) => NO_MODEL_FLAGS.has(a))) bootPoolWorker();

/**
 * Called with a command's accepted arguments, before its handler: without --model, --threads,
 * --device and FLOWEDIT_DEVICE a model command's pack is the built-in one on the CPU, and the
 * worker started first thing (only a model command has one) begins loading it now, before the
 * command's modules load.
 */
export function loadDefaultPack(argv: Readonly<Record<string, unknown>>): void {
  const builtin = builtinPackDirs()[0];
  if (builtin === undefined || argv.model !== undefined || argv.threads !== undefined || argv.device !== undefined || process.env[DEVICE_ENV]) return;
  loadOnBootedWorker({ packDir: resolve(builtin) });
}
