/**
 * Checks of one setting's value against the table: what it expects in words, whether a value is
 * one, and the messages flags, requests and resolved settings refuse a value with.
 */
import { describeRange, inRange } from './ranges.js';
import { flagOf, GROUP_NAME, SETTINGS, type RangedName, type SettingName, type SettingSpec } from './table.js';

/** "pad or resize", "one of euler, midpoint, fireflow". */
export function describeChoices(choices: readonly string[]): string {
  return choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`;
}

/** What a value of the setting must be, in words: "an integer from 1 to 1000", "a number in (0, 100] (1 = off)". */
export function expectedOf(name: SettingName): string {
  const s: SettingSpec = SETTINGS[name];
  const what =
    s.kind === 'number' ? describeRange(s.range!)
    : s.kind === 'boolean' ? 'true or false'
    : s.kind === 'choice' ? describeChoices(s.choices!)
    : "a list of layer numbers, e.g. [1, 2], or the name of a layer group (the pack's transformer.layerGroups, or all), e.g. single";
  return s.note !== undefined ? `${what} (${s.note})` : what;
}

/** Whether `v` is a value of the setting (a layer group's name is checked against the pack later). */
export function isValid(name: SettingName, v: unknown): boolean {
  const s: SettingSpec = SETTINGS[name];
  switch (s.kind) {
    case 'number':
      return inRange(v, s.range!);
    case 'boolean':
      return typeof v === 'boolean';
    case 'choice':
      return typeof v === 'string' && s.choices!.includes(v);
    case 'layers':
      return (Array.isArray(v) && v.every((l) => typeof l === 'number' && Number.isInteger(l) && l >= 0)) || (typeof v === 'string' && GROUP_NAME.test(v));
  }
}

/** A value as a message shows it: `"strong" of type string`, `[1,2] (a list)`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `${JSON.stringify(v)} (a list)`;
  return `${JSON.stringify(v)} of type ${typeof v}`;
}

/**
 * Checks a number against its setting's range; `shown` is what the user typed when known (a
 * flag's own text), else the value itself.
 */
export function checkRange(name: RangedName, v: unknown, shown: string = JSON.stringify(v) ?? String(v)): number {
  const r = SETTINGS[name].range;
  if (!inRange(v, r)) throw new Error(`Expected ${describeRange(r)} for --${flagOf(name)} but received ${shown}`);
  return v;
}

/** The refusal of a choice the setting does not offer: `Unknown solver "rk4": choose one of euler, midpoint, fireflow`. */
export function unknownChoice(name: SettingName, v: unknown): string {
  const s: SettingSpec = SETTINGS[name];
  return `Unknown ${s.noun ?? `--${flagOf(name)}`} "${String(v)}": choose ${describeChoices(s.choices ?? [])}`;
}

/** Checks a choice; throws unknownChoice's message. */
export function checkChoice<T extends string>(name: SettingName, v: T): T {
  if (!isValid(name, v)) throw new Error(unknownChoice(name, v));
  return v;
}
