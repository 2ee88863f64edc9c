/**
 * Turns a program's output, as it arrives in chunks, into lines. A line ends at `\n`. A segment that
 * ends at `\r` is a progress line the program is about to overwrite (git's `Receiving objects:  45%`):
 * it is held as the source's *pending* line and replaced by the next one, so a long clone yields a
 * few progress lines per flush rather than thousands.
 */
export class LineSplitter {
  private partial = '';
  private pendingProgress: string | null = null;

  /**
   * Feeds one chunk.
   * @returns the lines it completed, in order (without their `\n`).
   */
  push(chunk: string): string[] {
    const lines: string[] = [];
    let text = this.partial + chunk;
    for (;;) {
      const at = text.search(/[\r\n]/);
      if (at < 0) break;
      if (text[at] === '\r' && at === text.length - 1) break; // a `\n` may follow in the next chunk
      const segment = text.slice(0, at);
      if (text[at] === '\r' && text[at + 1] !== '\n') {
        // `\r` alone: a progress update; an empty one (a bare `\r` after `\n`) changes nothing.
        if (segment) this.pendingProgress = segment;
        text = text.slice(at + 1);
        continue;
      }
      text = text.slice(at + (text[at] === '\r' ? 2 : 1));
      this.pendingProgress = null; // the line that overwrote it is final
      lines.push(segment);
    }
    this.partial = text;
    return lines;
  }

  /**
   * The latest progress line not yet overwritten or ended, once (a flush shows where progress stands).
   * @returns null when there is none new.
   */
  takeProgress(): string | null {
    let line = this.pendingProgress;
    this.pendingProgress = null;
    if (this.partial.endsWith('\r') && this.partial.length > 1) {
      // The newest progress line, held back only in case a `\n` follows: shown now, and what follows it
      // (a `\n` makes an empty line, which is dropped) changes nothing.
      line = this.partial.slice(0, -1);
      this.partial = '\r';
    }
    return line;
  }

  /** What is left at the end of the output: the unfinished last line, or else the pending progress line. */
  end(): string | null {
    const rest = this.partial || this.takeProgress();
    this.partial = '';
    this.pendingProgress = null;
    return rest || null;
  }
}
