/**
 * What one thread found out about media that another can reuse: which ffmpeg and ffprobe work
 * (each found by running it with -version) and ffprobe's answers about files. The checks a
 * command runs before its job probe its clip and mask; the job's worker takes their answers
 * instead of starting the same processes again. A probe answer is used only while its file is
 * unchanged.
 */
import { keepToolFacts, toolFacts, type ToolFacts } from './ffmpeg-tools.js';
import { keepProbeAnswers, probeAnswers } from './video.js';

export interface MediaFacts {
  readonly tools: ToolFacts;
  /** [key, answer] pairs (probeAnswers in video.ts) */
  readonly probes: readonly (readonly [string, unknown])[];
}

/** This thread's media facts, to hand to another thread (a structured-cloneable object). */
export function mediaFacts(): MediaFacts {
  return { tools: toolFacts(), probes: probeAnswers() };
}

/** Takes another thread's media facts (mediaFacts). */
export function keepMediaFacts(facts: MediaFacts): void {
  if (facts.tools) keepToolFacts(facts.tools);
  if (Array.isArray(facts.probes)) keepProbeAnswers(facts.probes);
}
