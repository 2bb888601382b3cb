/** The p-th percentile of `xs` (nearest rank, taken from below): p = 50 is the median of an odd count, the upper middle of an even one. */
export function percentile(xs: readonly number[], p: number): number {
  const a = [...xs].sort((x, y) => x - y);
  return a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))]!;
}
