/**
 * Prompt cleaning before tokenizing (manifest `text.clean`). 'wan': the Wan pipeline's cleaning —
 * HTML entities unescaped twice, stripped, runs of whitespace collapsed to one space — with
 * Unicode NFC. (A fuller port of the reference's text repair replaces this.)
 */
export type PromptClean = 'none' | 'wan';

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[body] ?? m;
  });
}

export function cleanPrompt(kind: PromptClean, text: string): string {
  if (kind === 'none') return text;
  const unescaped = unescapeHtml(unescapeHtml(text.normalize('NFC'))).trim();
  return unescaped.replace(/\s+/gu, ' ').trim();
}
