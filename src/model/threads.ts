/**
 * How many CPU threads a model session runs an operator on. flowedit always names the count.
 * onnxruntime's own default (0) is meant to be the number of physical cores, but its count ran a
 * single thread on a 2-core Linux machine here (two cores, one thread each, by the kernel's
 * topology), 1.6× slower on a clip's transformer calls (docs/lab/cpu-speed.md). So flowedit counts
 * the cores itself: on Linux the physical cores this process may run on, from the kernel's CPU
 * topology (hyperthreads of one core count once); elsewhere, or when that cannot be read, every
 * logical core this process may use.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** The CPUs of a list such as "0-3,8,10-11". */
export function cpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`Not a CPU list: '${text}'`);
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    for (let c = a; c <= b; c++) cpus.push(c);
  }
  return cpus;
}

/**
 * Physical cores among the CPUs this process may run on (Linux: /proc/self/status's
 * Cpus_allowed_list, each CPU's topology/physical_package_id and core_id), or null where that
 * cannot be read.
 */
export function physicalCores(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number | null {
  try {
    const allowed = /^Cpus_allowed_list:\s*(.+)$/m.exec(read('/proc/self/status'))?.[1];
    if (!allowed) return null;
    const cores = new Set<string>();
    for (const cpu of cpuList(allowed)) {
      const dir = `/sys/devices/system/cpu/cpu${cpu}/topology`;
      cores.add(`${read(`${dir}/physical_package_id`).trim()}:${read(`${dir}/core_id`).trim()}`);
    }
    return cores.size > 0 ? cores.size : null;
  } catch {
    return null;
  }
}

let counted: number | undefined;

/** Threads for one operator when a caller names none: the physical cores (see above), at least 1. */
export function defaultThreads(): number {
  counted ??= Math.max(1, Math.min(physicalCores() ?? availableParallelism(), availableParallelism()));
  return counted;
}

/** Each of `workers` sessions running side by side gets an equal share of `total` threads, at least 1. */
export function threadShare(workers: number, total: number = defaultThreads()): number {
  return Math.max(1, Math.floor(total / workers));
}
