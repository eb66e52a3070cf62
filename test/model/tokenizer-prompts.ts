/**
 * Deterministic prompts for the tokenizer parity test (test/model/tokenizer-parity.test.ts):
 * English, accents (composed and decomposed), CJK and full-width punctuation, other scripts,
 * numbers, emoji (ZWJ sequences, flags, skin tones, keycaps), symbols NFKC changes, ligatures,
 * full-width forms, curly quotes, HTML entities, odd spaces, invisible, control and C1 characters,
 * long prompts over 512 tokens, empty and blank prompts, lines with and without '<'.
 */
/** A small seeded generator (mulberry32): the same numbers on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ENGLISH =
  'a red cat jumps over the lazy river at sunset while the camera slowly pans across golden fields ' +
  'an astronaut rides a horse through neon city streets in the rain cinematic lighting 4K detailed ' +
  'close-up of a chef slicing vegetables in a busy kitchen shallow depth of field film grain';
const WORDS = {
  english: ENGLISH.split(' '),
  accented: 'café crème brûlée naïve façade déjà über straße schön grün niño señor mañana corazón são coração zażółć gęślą jaźń příliš žluťoučký phở tiếng việt İstanbul çiçek şehir smörgåsbord ångström'.split(' '),
  decomposed: ['cafe\u0301', 'u\u0308ber', 'n\u0303', 'A\u030a', 'e\u0301te\u0301'],
  cjk: '夕阳 下的 古镇 小桥 流水 一只猫 跳上 窗台 城市夜景 霓虹灯光 桜吹雪の風景 東京の夜 猫が走る カメラ ゆっくり 서울의 밤 거리 고양이가 달린다 아름다운 꽃'.split(' '),
  cjkPunct: ['，', '。', '！', '？', '、', '「', '」', '（', '）', '：', '；'],
  other: 'кошка собака москва πόλη ήλιος θάλασσα مرحبا بالعالم שלום עולם สวัสดี नमस्ते दुनिया ᚠᚢᚦ ⠓⠑⠇⠇⠕'.split(' '),
  numbers: ['0', '7', '42', '2024', '3.14159', '1,000,000', '1/2', '-5', '+12', '1e9', '24fps', '16:9', '4K', '1080p', '2025-06-01', '12:30', '50%', '$19.99', '№5'],
  emoji: ['🐱', '🌅', '🔥', '✨', '🎬', '🚀', '❤️', '👍🏽', '👩‍🚀', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇯🇵', '🇫🇷', '🦙', '🫠', '☕', '⛰️', '1️⃣', '🧑🏿‍🎨'],
  symbols: ['½', '²', '㎏', '℃', 'Ⅻ', '①', '™', '©', '…', '—', '–', '•', '→', '∞', '≠', '√', '𝒥', '𝔘', 'µ', 'Å', 'Ω', '～', '〜', '~'],
  ligatures: ['ﬁne', 'ﬂow', 'oﬀ', 'eﬃcient', 'baﬄe', 'ﬅ', 'ﬆ', 'Ĳssel', 'ĳs', 'ǅ', 'ǈ', 'ŉ'],
  fullWidth: ['ＬＯＵＤ', 'ＮＯＩＳＥＳ', 'ａｂｃ', '１２３', 'ｶﾀｶﾅ', 'ﾊﾝｶｸ', '！', '＂', '＃', '＄', '％', '＆', '＇', '＠', '＼', '＾', '｀', '｜', '￥', '￡'],
  quotes: ['“quoted”', '‘single’', 'don’t', 'it‛s', '„low“', '‟reversed”', 'ʼapostrophe', '"straight"', "'plain'", '«guillemets»', '‹single›'],
  entities: ['&amp;', '&lt;', '&gt;', '&quot;', '&#39;', '&apos;', '&nbsp;', '&eacute;', '&EACUTE;', '&Eacute;', '&ldquo;hi&rdquo;', '&#8220;', '&#x201C;', '&amp;amp;', '&amp;lt;tag&amp;gt;', '&amp;amp;amp;', '&copy', '&amp', '&notit;', '&not', '&#128;', '&#x80;', '&#0;', '&#xD800;', '&#1114112;', '&#65', '&#x41', '&bogus;', '&hellip;', '&mdash;', '&NTILDE;', '&nTILDE;', '&SZLIG;', '&#12ab;', '&#x;', '&frac12;', '&constructor;', '&constructor'],
  spaces: ['  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', '\r', '\u00a0', '\u2003', '\u3000', '\u2009', '\u202f', '\u205f', '\u1680', '\u2028', '\u2029', '\u000b', '\u000c', ' \t \n '],
  invisible: ['\u200b', '\u200c', '\u200d', '\u200e', '\u2060', '\ufeff', '\u00ad', '\u034f', '\ufe0f'],
  c1: ['\u0080', '\u0085', '\u0093', '\u0094', '\u0096', '\u0081', '\u008d', '\u009f'],
  controls: ['\u0000', '\u0007', '\u001b[31m', '\u001b[0m', '\u007f', '\u001c', '\u001f', '\u206a', '\ufffc', '\ufff9', '\ud800', '\udfff'],
} as const;

type Category = keyof typeof WORDS;

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

/** A prompt mixing English with words of the given categories, joined by single or odd spaces. */
function mixed(r: () => number, cats: readonly Category[], n: number, oddSpaces: boolean): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const cat: Category = r() < 0.5 ? 'english' : pick(r, cats);
    const word = pick(r, WORDS[cat]);
    const sep = i === 0 ? '' : oddSpaces && r() < 0.3 ? pick(r, WORDS.spaces) : r() < 0.1 ? '' : ' ';
    s += sep + word;
  }
  return s;
}

/** The parity prompts: at least 1,000, the same on every run. */
export function parityPrompts(): string[] {
  const r = rng(20250607);
  const out: string[] = ['', ' ', '\t', '\n', '  \t\r\n ', '\u3000', '\u00a0', '&nbsp;', '&amp;nbsp;', '<b>bold</b> &amp; more', 'a < b &amp; c', 'x&amp;y\n<tag>\n&amp;z', '&amp;z\n<tag>\n&amp;z'];
  const cats = Object.keys(WORDS).filter((c) => c !== 'english') as Category[];
  // Each category on its own, then mixed with others.
  for (const cat of cats) {
    for (let i = 0; i < 40; i++) out.push(mixed(r, [cat], 2 + Math.floor(r() * 20), cat === 'spaces'));
  }
  for (let i = 0; i < 400; i++) {
    const k = 1 + Math.floor(r() * 4);
    const chosen = Array.from({ length: k }, () => pick(r, cats));
    out.push(mixed(r, chosen, 1 + Math.floor(r() * 40), r() < 0.4));
  }
  // Long prompts: over 512 tokens.
  for (let i = 0; i < 12; i++) out.push(mixed(r, cats, 300 + Math.floor(r() * 600), r() < 0.5));
  // Lines with and without '<' (ftfy unescapes entities only before the first line with '<').
  for (let i = 0; i < 30; i++) {
    const lines = Array.from({ length: 2 + Math.floor(r() * 3) }, () => (r() < 0.3 ? '<p>' : '') + mixed(r, ['entities', 'quotes'], 4, false));
    out.push(lines.join(pick(r, ['\n', '\r\n', '\r'])));
  }
  return out;
}

/** Prompts that are mojibake (UTF-8 read as Windows-1252 / Latin-1): ftfy repairs them, cleanPrompt does not. */
export function mojibakePrompts(): string[] {
  const latin1 = (s: string) => Array.from(new TextEncoder().encode(s), (b) => String.fromCharCode(b)).join('');
  const cp1252 = (s: string) => new TextDecoder('windows-1252').decode(new TextEncoder().encode(s));
  const r = rng(7);
  const out: string[] = [];
  for (let i = 0; i < 60; i++) {
    const text = mixed(r, ['accented', 'quotes', 'cjk', 'emoji'], 3 + Math.floor(r() * 8), false);
    out.push(i % 2 === 0 ? cp1252(text) : latin1(text));
  }
  return out;
}

/** Pieces that FLUX.1's two tokenizers treat specially (test/model/flux-tokenizer-parity.test.ts). */
const FLUX_PIECES = {
  /** T5's added tokens, typed, with neighbours of odd white space (the sentinels strip it) */
  t5Specials: ['</s>', '<pad>', '<unk>', '<extra_id_0>', '<extra_id_7>', '<extra_id_99>', '<extra_id_100>', '<EXTRA_ID_1>', '＜extra_id_2＞', '＜/s＞', '＜pad＞', '<s>', '</S>'],
  /** CLIP's special tokens as typed, in other cases, full-width, as HTML entities */
  clipSpecials: ['<|startoftext|>', '<|endoftext|>', '<|ENDOFTEXT|>', '<|EndOfText|>', '<|StartOfText|>', '＜｜endoftext｜＞', '＜｜startoftext｜＞', '&lt;|endoftext|&gt;', '<|ſtartoftext|>', '<|endoftext|', '|endoftext|>'],
  /** what may stand right before a special token: CLIP's pattern starts a word after some, not after others */
  before: ['', ' ', 'a', 'Z', '7', '!', '.', "'", '"', '(', '-', '\u0345', 'İ', 'é', '猫', '🐱', '\u3000', '\t', '&amp;'],
  /** Greek capitals: Python's lower-casing makes a final sigma ς */
  greek: ['ΟΔΟΣ', 'ὈΔΥΣΣΕΎΣ', 'Σ', 'ΑΣ', 'ΑΣ.', "ΑΣ'", 'ΑΣ\u0308', 'ΣΑ', 'aΣ', 'ΑΣ\u0345', '\u0345Σ', 'ΚΌΣΜΟΣ', 'ΣΟΦΟΣ!', 'ΘΑΛΑΣΣΑ'],
  /** contractions (matched ignoring case, so the long s ſ counts as s), U+0345, ligatures */
  contractions: ["'s", "'S", "'ſ", "it'ſ", "'ﬅ", "'T", "'LL", "'Re", "'VE", "'M", "'D", "don'T", "ʼs", "’S"],
  odd: ['\u0345', 'a\u0345b', 'ᾳ', 'ΐ', 'ﬁ\u0301', 'ｅ\u0301', '\u00a0\u0301', '1,000,000', '0000000', '!!!!!!', '......', '▁', 'a\u2581b'],
} as const;

/** Prompts around what FLUX.1's tokenizers treat specially: 400, the same on every run. */
export function fluxPrompts(): string[] {
  const r = rng(20250812);
  const out: string[] = [];
  const all = Object.values(FLUX_PIECES).flat();
  for (let i = 0; i < 400; i++) {
    const parts: string[] = [];
    const n = 1 + Math.floor(r() * 6);
    for (let k = 0; k < n; k++) {
      const kind = r();
      if (kind < 0.35) parts.push(pick(r, FLUX_PIECES.before) + pick(r, [...FLUX_PIECES.clipSpecials, ...FLUX_PIECES.t5Specials]));
      else if (kind < 0.55) parts.push(pick(r, all));
      else parts.push(mixed(r, ['accented', 'quotes', 'spaces', 'symbols'], 1 + Math.floor(r() * 5), true));
    }
    const sep = pick(r, [' ', '', '  ', '\t', '\n', ' \u3000 ']);
    out.push(parts.join(sep));
  }
  return out;
}

/** Fragments glued at random by fluxFuzzPrompts: pieces of special tokens, cases, neighbours. */
const FUZZ_POOL = [
  '<|', '|>', 'endoftext', 'ENDOFTEXT', 'EndOfText', 'startoftext', 'ſtartoftext', '<|endoftext|>', '<|startoftext|>',
  '</s>', '<pad>', '<unk>', '<extra_id_0>', '<extra_id_5>', '<extra_id_99>', '<extra_id_', '<', '>', '|', '＜', '｜', '＞',
  '&lt;', '&gt;', '&amp;', '<p>', "'", 's', 'S', 'ſ', 't', 'll', '!', '.', '-', '"', '“', '’', ' ', '  ', '\t', '\n',
  '\u3000', '\u00a0', '\u2003', '\u2028', '\x85', '\x1c', '\x00', '\x1b[1m', 'a', 'Z', 'the', 'cat', '1', '23', '000', ',',
  'Σ', 'ΑΣ', 'σ', 'İ', '\u0345', '\u0308', 'é', 'e\u0301', '猫', '🐱', '\u200d', '\ufe0f', '\u034f', '▁', '¨', 'ﬁ', 'Ǆ',
  'ß', 'K', 'Å', '½',
];

/** Random strings of FUZZ_POOL fragments: 1,000, the same on every run. */
export function fluxFuzzPrompts(): string[] {
  const r = rng(20250813);
  return Array.from({ length: 1000 }, () => Array.from({ length: 1 + Math.floor(r() * 12) }, () => pick(r, FUZZ_POOL)).join(''));
}
