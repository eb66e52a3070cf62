/**
 * How many CPU threads a model session runs an operator on when the caller names no count.
 * onnxruntime's own default (0) is meant to be the number of physical cores, but its count ran a
 * single thread on a 2-core Linux machine here (two cores, one thread each, by the kernel's
 * topology), 1.6× slower on a clip's transformer calls (docs/lab/cpu-speed.md). So on Linux flowedit
 * counts the physical cores this process may run on itself, from the kernel's CPU topology
 * (hyperthreads of one core count once), and names that count; elsewhere, or when the topology
 * cannot be read, it leaves the count to onnxruntime. Sessions running side by side (a pool's
 * workers, a batch's items) always get an explicit, equal share.
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

let counted: number | null | undefined;

/** The count a session is given when its caller names none: the physical cores on Linux (see above), else undefined (onnxruntime's own count). */
export function sessionThreads(): number | undefined {
  if (counted === undefined) {
    const cores = physicalCores();
    counted = cores === null ? null : Math.max(1, Math.min(cores, availableParallelism()));
  }
  return counted ?? undefined;
}

/** The cores to share among sessions running side by side: the physical cores where known, else every logical core this process may use. */
export function defaultThreads(): number {
  return sessionThreads() ?? availableParallelism();
}

/** Each of `workers` sessions running side by side gets an equal share of `total` threads, at least 1. */
export function threadShare(workers: number, total: number = defaultThreads()): number {
  return Math.max(1, Math.floor(total / workers));
}
