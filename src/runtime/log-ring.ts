/**
 * The last lines a process logged (or was sent), in a fixed ring: memory
 * stays bounded however long it runs. Each line has a number, so a reader can
 * ask for what came after the last one it saw.
 */
export class LogRing {
  private readonly lines: (string | undefined)[];
  private next = 0;
  /** Number of the next line pushed; lines before `count - capacity` are gone. */
  private count = 0;
  /** Most bytes kept of one line (a runaway message must not fill the ring). */
  static readonly MAX_LINE = 8 * 1024;

  constructor(readonly capacity = 5_000) {
    this.lines = new Array<string | undefined>(capacity);
  }

  push(line: string): void {
    const text = line.endsWith('\n') ? line.slice(0, -1) : line;
    this.lines[this.next] = text.length > LogRing.MAX_LINE ? text.slice(0, LogRing.MAX_LINE) : text;
    this.next = (this.next + 1) % this.capacity;
    this.count++;
  }

  /** Lines numbered `from` and later that are still kept, oldest first, with the number to ask from next time. */
  since(from = 0): { lines: string[]; next: number } {
    const oldest = Math.max(0, this.count - this.capacity);
    const lines: string[] = [];
    for (let n = Math.max(from, oldest); n < this.count; n++) lines.push(this.lines[n % this.capacity]!);
    return { lines, next: this.count };
  }
}
