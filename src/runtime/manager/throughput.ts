/** Completions per second over a sliding window of one-second buckets. */
export class Throughput {
  private readonly buckets: Float64Array;
  private lastSecond = 0;

  constructor(private readonly windowSeconds = 60) {
    this.buckets = new Float64Array(windowSeconds);
  }

  add(count: number, now: number): void {
    this.advance(now);
    const i = Math.floor(now / 1000) % this.windowSeconds;
    this.buckets[i] = (this.buckets[i] ?? 0) + count;
  }

  perSecond(now: number): number {
    this.advance(now);
    let sum = 0;
    for (const b of this.buckets) sum += b;
    return sum / this.windowSeconds;
  }

  private advance(now: number): void {
    const sec = Math.floor(now / 1000);
    if (this.lastSecond === 0) this.lastSecond = sec;
    const gap = Math.min(sec - this.lastSecond, this.windowSeconds);
    for (let s = 1; s <= gap; s++) this.buckets[(this.lastSecond + s) % this.windowSeconds] = 0;
    if (sec > this.lastSecond) this.lastSecond = sec;
  }
}
