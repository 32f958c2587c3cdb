/** Injectable clock: monitoring and tests move time through this instead of Date.now(). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to; for tests and simulations. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: Date | number) {
    this.current = typeof start === "number" ? start : start.getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  set(to: Date | number): void {
    this.current = typeof to === "number" ? to : to.getTime();
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
