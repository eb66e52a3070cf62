/** A one-line progress bar on stderr, redrawn in place on a terminal; elsewhere one line per finished phase. */
export interface ProgressLine {
  update(label: string, done: number, total: number): void;
  done(): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr, quiet = false): ProgressLine {
  const width = 24;
  let lastLabel = '';
  let drawn = false;
  return {
    update(label, done, total) {
      if (quiet) return;
      if (stream.isTTY) {
        const filled = total > 0 ? Math.round((done / total) * width) : 0;
        const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
        stream.write(`\r${label.padEnd(13)} ${bar} ${done}/${total}`);
        drawn = true;
      } else if (done === total && label !== lastLabel) {
        stream.write(`${label} ${done}/${total}\n`);
      }
      lastLabel = done === total ? label : '';
    },
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
