/** Runs one job from its validated spec: load the pack, run the use case, write the output. */
import { editImage, invertImage, reconstructImage } from '../edit/image-jobs.js';
import { readInversion } from '../edit/inversion-file.js';
import { writeImageOutput, writeInversionFile } from '../edit/outputs.js';
import type { RunOptions } from '../edit/progress.js';
import { loadPack } from '../model/pack.js';
import { modelCallsFor } from '../solvers/index.js';
import { flowEditVersion } from '../version.js';
import type { JobSpec, JobSummary } from './job.js';

export async function runJob(job: JobSpec, run: RunOptions): Promise<JobSummary> {
  const started = performance.now();
  const pack = await loadPack(job.packDir, job.threads ? { threads: job.threads } : {});
  const base = { model: pack.manifest.id, flowedit: flowEditVersion() };
  try {
    switch (job.kind) {
      case 'invert': {
        const s = job.settings;
        const file = await invertImage(pack, job.input, { sourcePrompt: job.sourcePrompt, steps: s.steps, solver: s.solver, fit: s.fit }, run);
        run.signal?.throwIfAborted();
        await writeInversionFile(job.output, file);
        return { output: job.output, seconds: (performance.now() - started) / 1000, calls: file.inversion.calls };
      }
      case 'reconstruct': {
        const file = await readInversion(job.input);
        const image = await reconstructImage(pack, file, run);
        run.signal?.throwIfAborted();
        const { steps, solver, sourcePrompt } = file.header.settings;
        await writeImageOutput(job.output, image, { ...base, command: 'reconstruct', steps, solver, seed: job.seed, prompt: sourcePrompt, source: file.header.source.path });
        return { output: job.output, seconds: (performance.now() - started) / 1000, calls: modelCallsFor(solver, steps) };
      }
      case 'edit': {
        const s = job.settings;
        const file = job.inputIsInversion
          ? await readInversion(job.input)
          : await invertImage(pack, job.input, { sourcePrompt: job.sourcePrompt, steps: s.steps, solver: s.solver, fit: s.fit }, run);
        if (job.saveInversion) await writeInversionFile(job.saveInversion, file);
        const edited = await editImage(
          pack,
          file,
          { targetPrompt: job.targetPrompt, guidance: s.guidance, share: { layers: s.shareLayers, fraction: s.shareSteps } },
          run,
        );
        run.signal?.throwIfAborted();
        const { steps, solver, sourcePrompt } = file.header.settings;
        await writeImageOutput(job.output, edited.image, {
          ...base,
          command: 'edit',
          steps,
          solver,
          seed: s.seed,
          sourcePrompt,
          targetPrompt: job.targetPrompt,
          guidance: s.guidance,
          shareLayers: s.shareLayers,
          shareSteps: s.shareSteps,
          source: file.header.source.path,
        });
        return { output: job.output, seconds: (performance.now() - started) / 1000, calls: file.inversion.calls + edited.calls };
      }
    }
  } finally {
    await pack.release();
  }
}
