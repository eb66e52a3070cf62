/**
 * Writes docs/api.md: the library's API reference, generated from src/index.ts's exports and
 * their doc comments with the TypeScript compiler. `npm run docs:api` rewrites it; a test checks
 * that the committed file matches the code.
 *
 *   node dist/tools/api-docs.js [--check]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const API_DOC = join(ROOT, 'docs', 'api.md');
const ENTRY = join(ROOT, 'src', 'index.ts');

const FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType | ts.TypeFormatFlags.WriteArrowStyleSignature;

function docOf(symbol: ts.Symbol, checker: ts.TypeChecker): string {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker)).replace(/\s*\n\s*/g, ' ').trim();
}

/** A declaration's text without its doc comment and body, on one line where short. */
function headOf(node: ts.Node, source: ts.SourceFile): string {
  const text = node.getText(source);
  const body = ts.isFunctionDeclaration(node) && node.body ? node.body.getStart(source) - node.getStart(source) : text.length;
  return text.slice(0, body).replace(/^export\s+(declare\s+)?/, '').trim();
}

/** The members of an interface, a class or an object type alias, each with its doc comment. */
function membersOf(node: ts.Node, source: ts.SourceFile, checker: ts.TypeChecker): string[] {
  const members: ts.Node[] = ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node) ? [...node.members] : ts.isTypeAliasDeclaration(node) && ts.isTypeLiteralNode(node.type) ? [...node.type.members] : [];
  const lines: string[] = [];
  for (const m of members) {
    if ((ts.getCombinedModifierFlags(m as ts.Declaration) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0) continue;
    const name = (m as ts.NamedDeclaration).name;
    if (name && ts.isPrivateIdentifier(name)) continue;
    const symbol = name ? checker.getSymbolAtLocation(name) : undefined;
    const doc = symbol ? docOf(symbol, checker) : '';
    let text = m.getText(source).replace(/\/\*\*[\s\S]*?\*\/\s*/g, '');
    if (ts.isMethodDeclaration(m) && m.body) text = text.slice(0, m.body.getStart(source) - m.getStart(source)).trim();
    if (ts.isConstructorDeclaration(m) && m.body) text = text.slice(0, m.body.getStart(source) - m.getStart(source)).trim();
    const flat = text.replace(/\s+/g, ' ').replace(/\(\s+/g, '(').replace(/,?\s*\)/g, ')').replace(/;$/, '');
    lines.push(`- \`${flat}\`${doc ? ` — ${doc}` : ''}`);
  }
  return lines;
}

function kindOf(node: ts.Node): string {
  if (ts.isFunctionDeclaration(node)) return 'function';
  if (ts.isClassDeclaration(node)) return 'class';
  if (ts.isInterfaceDeclaration(node)) return 'interface';
  if (ts.isTypeAliasDeclaration(node)) return 'type';
  if (ts.isVariableDeclaration(node)) return 'const';
  return 'export';
}

/** The reference text for the library's entry point. */
export function renderApi(): string {
  const program = ts.createProgram([ENTRY], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, types: ['node'], skipLibCheck: true });
  const checker = program.getTypeChecker();
  const entry = program.getSourceFile(ENTRY)!;
  const moduleSymbol = checker.getSymbolAtLocation(entry)!;
  const byModule = new Map<string, string[]>();
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decls = symbol.getDeclarations() ?? [];
    const first = decls[0];
    if (!first) continue;
    const source = first.getSourceFile();
    const module = relative(join(ROOT, 'src'), source.fileName).replace(/\.ts$/, '');
    const doc = docOf(symbol, checker);
    const lines: string[] = [`### \`${exported.getName()}\` (${kindOf(first)})`, ''];
    if (doc) lines.push(doc, '');
    if (ts.isFunctionDeclaration(first)) {
      const sigs = checker.getSignaturesOfType(checker.getTypeOfSymbolAtLocation(symbol, first), ts.SignatureKind.Call);
      lines.push('```ts', ...sigs.map((s) => `${exported.getName()}${checker.signatureToString(s, undefined, FLAGS)}`), '```', '');
    } else if (ts.isVariableDeclaration(first)) {
      lines.push('```ts', `const ${exported.getName()}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, first), undefined, FLAGS)}`, '```', '');
    } else {
      const members = membersOf(first, source, checker);
      const head = headOf(first, source);
      const shown = members.length > 0 ? head.slice(0, head.indexOf('{')).trim() || head : head;
      lines.push('```ts', shown.replace(/\/\*\*[\s\S]*?\*\/\s*/g, ''), '```', '');
      if (members.length > 0) lines.push(...members, '');
    }
    const list = byModule.get(module) ?? [];
    list.push(lines.join('\n'));
    byModule.set(module, list);
  }
  const out = [
    '# flowedit API reference',
    '',
    'Generated from `src/index.ts` and the doc comments of what it exports (`npm run docs:api`); see',
    '[library.md](library.md) for how the pieces fit together.',
    '',
  ];
  for (const [module, entries] of byModule) out.push(`## ${module}`, '', ...entries);
  return `${out.join('\n').trimEnd()}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = renderApi();
  if (process.argv.includes('--check')) {
    const now = await readFile(API_DOC, 'utf8').catch(() => '');
    if (now !== text) {
      process.stderr.write('docs/api.md is out of date: run npm run docs:api\n');
      process.exitCode = 1;
    }
  } else {
    await writeFile(API_DOC, text);
    process.stderr.write(`wrote ${relative(process.cwd(), API_DOC)} (${text.length} bytes)\n`);
  }
}
