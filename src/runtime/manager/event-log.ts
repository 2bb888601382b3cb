import type { ManagerEvent } from '../../protocol/index.js';

/** The last few notable events, for `dynwork status` to show faults as they happen. */
export class EventLog {
  private readonly events: ManagerEvent[] = [];

  constructor(
    private readonly now: () => number,
    private readonly keep = 20,
  ) {}

  add(message: string): void {
    this.events.push({ at: new Date(this.now()).toISOString(), message });
    if (this.events.length > this.keep) this.events.splice(0, this.events.length - this.keep);
  }

  list(): ManagerEvent[] {
    return [...this.events];
  }
}
