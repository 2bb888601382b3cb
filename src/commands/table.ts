/** A column: its heading, and how readily it goes when the terminal is narrow (higher goes first; 0 never). */
export interface Column {
  head: string;
  drop?: number;
  /** May be cut short with "…" as a last resort (URLs, ids). */
  shrink?: boolean;
}

const GAP = 2;

/**
 * Lays rows out in columns that fit `width`: first whole low-priority
 * columns are left out, then the shrinkable ones are cut with "…". Cells
 * are never wrapped, so no word is split across lines.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], width: number): string {
  let shown = columns.map((_, i) => i);
  const widthOf = (i: number) => Math.max(columns[i]!.head.length, ...rows.map((r) => (r[i] ?? '').length));
  const total = (idx: number[], w: (i: number) => number) => idx.reduce((a, i) => a + w(i), 0) + GAP * Math.max(0, idx.length - 1);
  const droppable = () => shown.filter((i) => (columns[i]!.drop ?? 0) > 0).sort((a, b) => (columns[b]!.drop ?? 0) - (columns[a]!.drop ?? 0) || b - a);
  while (total(shown, widthOf) > width && droppable().length > 0) {
    const out = droppable()[0]!;
    shown = shown.filter((i) => i !== out);
  }
  const widths = new Map(shown.map((i) => [i, widthOf(i)]));
  let over = total(shown, (i) => widths.get(i)!) - width;
  for (const i of shown) {
    if (over <= 0) break;
    if (!columns[i]!.shrink) continue;
    const min = Math.max(columns[i]!.head.length, 4);
    const cut = Math.min(over, widths.get(i)! - min);
    if (cut > 0) {
      widths.set(i, widths.get(i)! - cut);
      over -= cut;
    }
  }
  const fit = (text: string, w: number) => (text.length > w ? `${text.slice(0, w - 1)}…` : text);
  const line = (cells: readonly string[]) =>
    shown
      .map((i, k) => {
        const cell = fit(cells[i] ?? '', widths.get(i)!);
        return k === shown.length - 1 ? cell : cell.padEnd(widths.get(i)!);
      })
      .join(' '.repeat(GAP))
      .trimEnd();
  return [line(columns.map((c) => c.head)), ...rows.map(line)].join('\n');
}

/** The width to lay out for: the terminal's, or 80 when not a terminal (COLUMNS overrides). */
export function outputWidth(stream: NodeJS.WriteStream = process.stdout): number {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env >= 20) return env;
  return stream.isTTY && stream.columns ? stream.columns : 80;
}
