/** YAML text to plain data: the one module that imports the `yaml` package. */
import { parse, YAMLParseError } from 'yaml';

/** Parses YAML (JSON is YAML too); a syntax error names the file, line and column. */
export function parseYaml(text: string, file: string): unknown {
  try {
    return parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const at = err.linePos?.[0];
      const where = at ? `${file}:${at.line}:${at.col}` : file;
      throw new Error(`${where}: not valid YAML: ${err.message.split('\n')[0]}`);
    }
    throw err;
  }
}
