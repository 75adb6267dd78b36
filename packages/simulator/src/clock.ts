/**
 * Device time. Firmware-exact runs use the wall clock (speed 1: the server's receive time is
 * the event time). Timestamped runs use a virtual clock running `speed` times faster, whose
 * readings are sent as `ts`, so hours of scenario fit in minutes.
 */
export interface Clock {
  readonly speed: number;
  /** Epoch ms on this clock. */
  now(): number;
  /** Runs `fn` after `ms` of this clock's time. */
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout;
}

export function createClock(opts: { speed?: number; start?: number } = {}): Clock {
  const speed = opts.speed ?? 1;
  if (!(speed > 0)) throw new RangeError('clock speed must be > 0');
  const wall0 = Date.now();
  const start = opts.start ?? wall0;
  return {
    speed,
    now: () => start + (Date.now() - wall0) * speed,
    setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms / speed)),
  };
}

export const realClock: Clock = createClock();
