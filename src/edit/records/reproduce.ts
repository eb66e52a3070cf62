/**
 * The command lines that make a file flowedit wrote again, from its record (or an inversion's
 * header): every setting given as a flag, so that the pack's defaults of the day do not matter.
 */
import { basename, extname } from 'node:path';
import type { InversionHeader } from '../frames/inversion-file.js';
import type { OutputInfo } from './output-info.js';
import type { OutputRecord } from './outputs.js';

export interface Reproduction {
  /** one command, or two (invert, then reconstruct), each as its arguments */
  readonly commands: readonly (readonly string[])[];
  /** what the commands cannot say for themselves (a pack that is not the built-in one, a source not recorded) */
  readonly notes: readonly string[];
}

export interface ReproduceOptions {
  /** the -o of the command (default: the file's own name) */
  readonly output?: string;
  /** the built-in pack's id: a record of it needs no --model */
  readonly builtinModel?: string;
}

/** Flags for the values that are present. */
function flags(pairs: readonly (readonly [string, unknown])[]): string[] {
  return pairs.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]);
}

function modelFlags(model: string, o: ReproduceOptions, notes: string[]): string[] {
  if (model === o.builtinModel) return [];
  notes.push(`made with the pack '${model}', not the built-in one: give --model its folder (or its name, where flowedit finds it by name)`);
  return ['--model', model];
}

function sourceOf(r: OutputRecord, notes: string[]): string {
  if (r.source !== undefined) {
    if (!r.source.includes('/') && !r.source.includes('\\')) notes.push(`the source is recorded by its file name (${r.source}): run the command in its folder, or give its path`);
    return r.source;
  }
  notes.push('the source is not recorded: put its path in place of SOURCE');
  return 'SOURCE';
}

/** The flags of `flowedit invert` (what an inversion fixes). */
function invertFlags(v: { sourcePrompt: string; steps: number; solver: string; shift: number | undefined; fit: string | undefined }): string[] {
  return flags([['--source-prompt', v.sourcePrompt], ['--steps', v.steps], ['--solver', v.solver], ['--shift', v.shift], ['--fit', v.fit]]);
}

/** The flags an edit and a swap share. */
function sharedEditFlags(r: OutputRecord): string[] {
  return [
    ...flags([
      ['--source-prompt', r.sourcePrompt ?? ''],
      ['--target-prompt', r.targetPrompt ?? ''],
      ['--steps', r.steps],
      ['--solver', r.solver],
      ['--guidance', r.guidance],
      ['--guide-against', r.guideAgainst],
      ['--share-layers', r.shareLayers],
      ['--share-steps', r.shareSteps],
    ]),
    r.shareText ? '--share-text' : '--no-share-text',
    ...flags([
      ['--negative-prompt', r.negativePrompt],
      ['--shift', r.shift],
      ['--fit', r.fit],
    ]),
  ];
}

function recordCommands(r: OutputRecord, output: string, o: ReproduceOptions, notes: string[]): string[][] {
  const model = modelFlags(r.model, o, notes);
  const seed = ['--seed', String(r.seed)];
  switch (r.command) {
    case 'generate':
      return [[
        'flowedit', 'generate',
        ...flags([
          ['--prompt', r.prompt === '' ? undefined : r.prompt],
          ['--negative-prompt', r.negativePrompt],
          ['--steps', r.steps],
          ['--solver', r.solver],
          ['--guidance', r.guidance],
          ['--shift', r.shift],
          ['--width', r.width],
          ['--height', r.height],
          ['--frames', r.frames],
          ['--fps', r.frames !== undefined ? r.fps : undefined],
        ]),
        ...seed, ...model, '-o', output,
      ]];
    case 'edit':
      // absent, the automatic mask was off: said explicitly, as the pack's default may turn it on
      return [['flowedit', 'edit', sourceOf(r, notes), ...sharedEditFlags(r), '--auto-mask', String(r.autoMask ?? 0), ...seed, ...model, '-o', output]];
    case 'swap': {
      const source = sourceOf(r, notes);
      if (r.mask === undefined) notes.push('the mask is not recorded: put its path in place of MASK');
      const mask = flags([
        ['--mask-grow', r.maskGrow],
        ['--mask-feather', r.maskFeather],
        ['--mask-bias', r.maskBias],
      ]);
      return [['flowedit', 'swap', source, '--mask', r.mask ?? 'MASK', ...sharedEditFlags(r), ...mask, ...(r.invertMask ? ['--invert-mask'] : []), ...seed, ...model, '-o', output]];
    }
    case 'reconstruct': {
      const inversion = `${basename(output, extname(output))}.flowinv`;
      const invert = ['flowedit', 'invert', sourceOf(r, notes), ...invertFlags({ sourcePrompt: r.prompt ?? '', steps: r.steps, solver: r.solver, shift: r.shift, fit: r.fit }), ...model, '-o', inversion];
      return [invert, ['flowedit', 'reconstruct', inversion, ...seed, ...model, '-o', output]];
    }
    default:
      throw new Error(`Unknown command "${r.command}" in the record: this flowedit cannot say how to make it again`);
  }
}

/** The window and overlap a clip's inversion used, when it took more than one window. */
function windowFlags(h: InversionHeader): string[] {
  const w = h.clip?.windows ?? [];
  if (w.length < 2) return [];
  const window = Math.max(...w.map((x) => x.length));
  const overlap = w[0]!.start + w[0]!.length - w[1]!.start;
  return ['--window', String(window), '--overlap', String(overlap)];
}

function inversionCommands(h: InversionHeader, output: string, o: ReproduceOptions, notes: string[]): string[][] {
  const s = h.settings;
  return [[
    'flowedit', 'invert', h.source.path,
    ...invertFlags({ sourcePrompt: s.sourcePrompt, steps: s.steps, solver: s.solver, shift: s.shift, fit: h.fit.mode }),
    ...windowFlags(h),
    ...modelFlags(h.modelId, o, notes),
    '-o', output,
  ]];
}

/** The commands that make the file again, and what they cannot say. */
export function reproduce(info: OutputInfo, o: ReproduceOptions = {}): Reproduction {
  const output = o.output ?? basename(info.path);
  const notes: string[] = [];
  const commands = info.kind === 'inversion' ? inversionCommands(info.header, output, o, notes) : recordCommands(info.record, output, o, notes);
  return { commands, notes };
}

/** An argument as a POSIX shell reads it back: bare when it is safe, else in single quotes. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The commands as one shell line (two are joined with &&). */
export function commandLine(r: Reproduction): string {
  return r.commands.map((c) => c.map(shellQuote).join(' ')).join(' && ');
}
