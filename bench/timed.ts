/** Running a benchmark step in its own process under /usr/bin/time -v. */
import { spawn } from 'node:child_process';

export interface Timed {
  /** wall seconds of the child */
  readonly seconds: number;
  /** its peak resident memory, MiB */
  readonly maxRssMiB: number;
  readonly stdout: string;
}

/** Runs `cmd` under /usr/bin/time -v; `echo` copies its stdout to ours (stderr) as it comes. */
export function timed(cmd: string, args: readonly string[], opts: { readonly cwd?: string; readonly echo?: boolean } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-v', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (opts.echo) process.stderr.write(d);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    const t0 = performance.now();
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (code !== 0 || !rss) reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr.slice(-3000)}`));
      else resolve({ seconds, maxRssMiB: Number(rss[1]) / 1024, stdout });
    });
  });
}
