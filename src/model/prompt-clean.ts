/**
 * Prompt cleaning before tokenizing (the manifest's `text.clean`).
 *
 * 'wan' is Wan2.1's cleaning (wan/modules/tokenizers.py, clean='whitespace'): ftfy.fix_text with
 * its defaults (ftfy 6.3), html.unescape twice, strip, runs of whitespace collapsed to one space,
 * strip. ftfy's fixes are ported here in its order, looping until nothing changes, line by line:
 * HTML entities (only while no line so far had a '<', as ftfy's 'auto' does), C1 controls read as
 * Windows-1252, Latin ligatures, full/half-width forms, curly quotes, line breaks, surrogates,
 * terminal escapes, control characters, NFC.
 *
 * 'clip' is the cleaning of the slow CLIPTokenizer (transformers 4.x) that FLUX.1's reference runs:
 * the prompt is cut at the special tokens <|startoftext|> and <|endoftext|> as typed, and each piece
 * between them gets ftfy.fix_text, runs of white space (the `regex` module's `\s`: Unicode
 * White_Space) collapsed to one space, str.strip. Lower-casing is left to the pack's tokenizer.json
 * (its Lowercase normaliser), with two things settled here that it cannot see: a capital sigma
 * Python lower-cases to the final ς (its Final_Sigma context), and which special-token texts the
 * cleaning or lower-casing makes (e.g. "＜｜endoftext｜＞", "<|EndOfText|>") the slow tokenizer reads as
 * special tokens: those are written as the token (which the tokenizer.json matches as typed), the
 * others get an upper-case letter so that they are not matched (its normaliser lower-cases them back).
 *
 * Left out: ftfy's mojibake repair (fix_encoding: text that is UTF-8 read as Latin-1/Windows-125x
 * and the like, e.g. "cafÃ©" → "café"). It changes only text that its heuristics call mojibake;
 * well-formed prompts pass through it unchanged. test/model/tokenizer-parity.test.ts measures the
 * difference on mojibake prompts. Unicode tables are the JavaScript engine's (NFC/NFKC, digits),
 * Python's may be one Unicode version older.
 */
import { FTFY_UPPER_ENTITIES, HTML5_ENTITIES } from './html-entities.js';

export type PromptClean = 'none' | 'wan' | 'clip';

export function cleanPrompt(kind: PromptClean, text: string): string {
  switch (kind) {
    case 'none':
      return text;
    case 'wan':
      return wanClean(text);
    case 'clip':
      return clipClean(text);
    default:
      throw new Error(`Unknown prompt cleaning ${JSON.stringify(kind)}: expected 'none', 'wan' or 'clip'`);
  }
}

/** Python's str.isspace() characters (str.strip() removes these). */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** `\s` of the `regex` module the reference uses: Unicode White_Space (no U+1C–1F, unlike str.isspace). */
const WHITE_SPACE = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');
const WHITESPACE_RUN = new RegExp(`[${WHITE_SPACE}]+`, 'g');

function pyStrip(text: string): string {
  return text.replace(PY_STRIP, '');
}

function wanClean(text: string): string {
  let t = fixText(text);
  t = pyStrip(htmlUnescape(htmlUnescape(t)));
  return pyStrip(t.replace(WHITESPACE_RUN, ' '));
}

// ---------------------------------------------------------------------------------------------
// The slow CLIPTokenizer's cleaning.

/** CLIP's special tokens as typed: the slow tokenizer cuts the prompt there before cleaning. */
const CLIP_SPECIALS = /<\|startoftext\|>|<\|endoftext\|>/g;

function clipClean(text: string): string {
  let out = '';
  let pos = 0;
  for (const m of text.matchAll(CLIP_SPECIALS)) {
    out += clipCleanPiece(text.slice(pos, m.index)) + m[0];
    pos = m.index + m[0].length;
  }
  return out + clipCleanPiece(text.slice(pos));
}

function clipCleanPiece(piece: string): string {
  const t = pyStrip(fixText(piece).replace(WHITESPACE_RUN, ' '));
  return settleClipSpecials(finalSigma(t));
}

const CASED = /\p{Cased}/u;
const CASE_IGNORABLE = /\p{Case_Ignorable}/u;

/**
 * Each capital sigma that Python's str.lower makes a final ς, written as ς: one preceded by a cased
 * character (case-ignorable ones skipped) and not followed by one (case-ignorable ones skipped).
 */
function finalSigma(text: string): string {
  if (!text.includes('\u03a3')) return text;
  const cs = Array.from(text);
  const out = [...cs];
  const skip = (i: number, step: number): number => {
    while (i >= 0 && i < cs.length && CASE_IGNORABLE.test(cs[i]!)) i += step;
    return i;
  };
  cs.forEach((c, i) => {
    if (c !== '\u03a3') return;
    const before = skip(i - 1, -1);
    if (before < 0 || !CASED.test(cs[before]!)) return;
    const after = skip(i + 1, 1);
    if (after < cs.length && CASED.test(cs[after]!)) return;
    out[i] = '\u03c2';
  });
  return out.join('');
}

const CLIP_SPECIAL_LOWER = /<\|(?:startoftext|endoftext)\|>/g;
/** Characters after which CLIP's pattern starts a new word: letters, digits, and U+0345 (which no alternative takes). */
const WORD_BOUNDARY_BEFORE = /[\p{L}\p{N}\u0345 ]/u;

/**
 * The slow tokenizer lower-cases a piece and cuts it with CLIP's pattern, whose first alternatives
 * are the two special tokens: a special-token text it meets at the start of a word becomes that
 * token. It meets one there unless a run of punctuation before it goes on into its '<'. Those are
 * written here as the token itself; special-token texts it does not meet there, when the cleaning
 * made them exact, get an upper-case letter so that the tokenizer.json does not match them.
 */
function settleClipSpecials(text: string): string {
  if (!text.includes('<')) return text;
  const chars = Array.from(text);
  let lower = '';
  const source: number[] = []; // for each code unit of `lower`, the index of its character in `chars`
  chars.forEach((c, i) => {
    const l = c.toLowerCase();
    lower += l;
    for (let k = 0; k < l.length; k++) source.push(i);
  });
  let wordEnd = -1; // where the last special token matched ends
  for (const m of lower.matchAll(CLIP_SPECIAL_LOWER)) {
    const q = m.index;
    const before = Array.from(lower.slice(Math.max(0, q - 2), q)).pop();
    const special = before === undefined || q === wordEnd || WORD_BOUNDARY_BEFORE.test(before);
    const a = source[q]!;
    const b = source[q + m[0].length - 1]! + 1;
    if (special) {
      chars.splice(a, b - a, m[0], ...new Array<string>(b - a - 1).fill(''));
      wordEnd = q + m[0].length;
    } else if (chars.slice(a, b).join('') === m[0]) {
      chars[a + 2] = chars[a + 2]!.toUpperCase();
    }
  }
  return chars.join('');
}

// ---------------------------------------------------------------------------------------------
// Python's html.unescape (HTML5 rules).

const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;
/** Numeric references the HTML5 standard reads as Windows-1252 (and NUL, CR). */
const INVALID_CHARREFS: Readonly<Record<number, string>> = {
  0x00: '\ufffd', 0x0d: '\r', 0x80: '\u20ac', 0x81: '\x81', 0x82: '\u201a', 0x83: '\u0192', 0x84: '\u201e',
  0x85: '\u2026', 0x86: '\u2020', 0x87: '\u2021', 0x88: '\u02c6', 0x89: '\u2030', 0x8a: '\u0160', 0x8b: '\u2039',
  0x8c: '\u0152', 0x8d: '\x8d', 0x8e: '\u017d', 0x8f: '\x8f', 0x90: '\x90', 0x91: '\u2018', 0x92: '\u2019',
  0x93: '\u201c', 0x94: '\u201d', 0x95: '\u2022', 0x96: '\u2013', 0x97: '\u2014', 0x98: '\u02dc', 0x99: '\u2122',
  0x9a: '\u0161', 0x9b: '\u203a', 0x9c: '\u0153', 0x9d: '\x9d', 0x9e: '\u017e', 0x9f: '\u0178',
};

/** Code points a numeric reference decodes to nothing (Python's html._invalid_codepoints). */
function invalidCodepoint(n: number): boolean {
  return (
    (n >= 0x1 && n <= 0x8) ||
    n === 0xb ||
    (n >= 0xe && n <= 0x1f) ||
    (n >= 0x7f && n <= 0x9f) ||
    (n >= 0xfdd0 && n <= 0xfdef) ||
    (n <= 0x10ffff && (n & 0xfffe) === 0xfffe)
  );
}

function has(table: Readonly<Record<string, string>>, key: string): boolean {
  return Object.hasOwn(table, key);
}

function numericCharref(ref: string): string {
  const hex = ref[1] === 'x' || ref[1] === 'X';
  const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
  const big = BigInt(hex ? `0x${digits}` : digits);
  const n = big > 0x10ffffn ? 0x110000 : Number(big);
  if (Object.hasOwn(INVALID_CHARREFS, n)) return INVALID_CHARREFS[n]!;
  if ((n >= 0xd800 && n <= 0xdfff) || n > 0x10ffff) return '\ufffd';
  if (invalidCodepoint(n)) return '';
  return String.fromCodePoint(n);
}

function replaceCharref(ref: string): string {
  if (ref[0] === '#') return numericCharref(ref);
  if (has(HTML5_ENTITIES, ref)) return HTML5_ENTITIES[ref]!;
  // The longest prefix (of at least 2 characters) that names an entity.
  for (let x = ref.length - 1; x > 1; x--) {
    const name = ref.slice(0, x);
    if (has(HTML5_ENTITIES, name)) return HTML5_ENTITIES[name]! + ref.slice(x);
  }
  return `&${ref}`;
}

/** Python's html.unescape. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF, (_m, ref: string) => replaceCharref(ref));
}

// ---------------------------------------------------------------------------------------------
// ftfy.fix_text with its default configuration, less fix_encoding.

const FTFY_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;

/** ftfy's unescape_html: only references that end in ';', plus upper-case names of Latin letters. */
function ftfyUnescapeHtml(text: string): string {
  return text.replace(FTFY_ENTITY, (m) => {
    const name = m.slice(1);
    if (name.endsWith(';') && has(HTML5_ENTITIES, name)) return HTML5_ENTITIES[name]!;
    if (has(FTFY_UPPER_ENTITIES, name)) return FTFY_UPPER_ENTITIES[name]!;
    if (m.startsWith('&#')) {
      const decoded = htmlUnescape(m);
      return decoded.includes(';') ? m : decoded;
    }
    return m;
  });
}

/** C1 controls U+80–9F read as Windows-1252 (bytes it leaves undefined stay as they are). */
const C1_CONTROL = /[\x80-\x9f]/g;
function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROL, (c) => INVALID_CHARREFS[c.charCodeAt(0)]!);
}

const LIGATURES: Readonly<Record<string, string>> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn', '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz',
  '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e', '\u01c7': 'LJ', '\u01c8': 'Lj', '\u01c9': 'lj',
  '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj', '\ufb00': 'ff', '\ufb01': 'fi', '\ufb02': 'fl', '\ufb03': 'ffi',
  '\ufb04': 'ffl', '\ufb05': '\u017ft', '\ufb06': 'st',
};
const LIGATURE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');
function fixLatinLigatures(text: string): string {
  return text.replace(LIGATURE, (c) => LIGATURES[c]!);
}

/** Full-width and half-width forms U+FF01–FFEF (those NFKC changes) and U+3000 to standard width. */
const WIDTH_MAP: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>([['\u3000', ' ']]);
  for (let i = 0xff01; i < 0xfff0; i++) {
    const c = String.fromCharCode(i);
    const alt = c.normalize('NFKC');
    if (alt !== c) map.set(c, alt);
  }
  return map;
})();
const WIDTH = /[\u3000\uff01-\uffef]/g;
function fixCharacterWidth(text: string): string {
  return text.replace(WIDTH, (c) => WIDTH_MAP.get(c) ?? c);
}

function uncurlQuotes(text: string): string {
  return text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
}

function fixLineBreaks(text: string): string {
  return text.replace(/\r\n|[\r\u2028\u2029\x85]/g, '\n');
}

/** Lone surrogates become U+FFFD (pairs are already whole characters in a JavaScript string). */
function fixSurrogates(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** ANSI escapes; Python's `\d` takes any decimal digit, as `\p{Nd}` does. */
function removeTerminalEscapes(text: string): string {
  return text.replace(/\x1b\[((?:\p{Nd}|;)*)([a-zA-Z])/gu, '');
}

function removeControlChars(text: string): string {
  return text.replace(/[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g, '');
}

function fixSegment(segment: string, unescape: boolean): string {
  let text = segment;
  for (;;) {
    const before = text;
    if (unescape) text = ftfyUnescapeHtml(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = fixSurrogates(text);
    text = removeTerminalEscapes(text);
    text = removeControlChars(text);
    text = text.normalize('NFC');
    if (text === before) return text;
  }
}

/** ftfy's segment limit, in code points (Python string length). */
const MAX_DECODE_LENGTH = 1_000_000;

/** Splits after each '\n', and pieces longer than MAX_DECODE_LENGTH code points, as ftfy does. */
function* segments(text: string): Generator<string> {
  let pos = 0;
  while (pos < text.length) {
    const lineEnd = text.indexOf('\n', pos);
    let end = lineEnd === -1 ? text.length : lineEnd + 1;
    if (end - pos > MAX_DECODE_LENGTH) {
      const cps = Array.from(text.slice(pos, end));
      if (cps.length > MAX_DECODE_LENGTH) end = pos + cps.slice(0, MAX_DECODE_LENGTH).join('').length;
    }
    yield text.slice(pos, end);
    pos = end;
  }
}

/** ftfy.fix_text with its defaults except mojibake repair (see the module comment). */
export function fixText(text: string): string {
  let unescape = true;
  let out = '';
  for (const segment of segments(text)) {
    // ftfy's unescape_html='auto': off from the first line holding a '<' on, for the rest of the text.
    if (segment.includes('<')) unescape = false;
    out += fixSegment(segment, unescape);
  }
  return out;
}
