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

/**
 * `notAfter`: readings stop there. A run that places its virtual start a scenario's length
 * before the moment it begins reaches that moment only if it keeps pace; on a loaded machine
 * its timers fire late and its last messages would otherwise be stamped in the future, which
 * gateways refuse.
 */
export function createClock(opts: { speed?: number; start?: number; notAfter?: number } = {}): Clock {
  const speed = opts.speed ?? 1;
  if (!(speed > 0)) throw new RangeError('clock speed must be > 0');
  const wall0 = Date.now();
  const start = opts.start ?? wall0;
  const virtual = () => start + (Date.now() - wall0) * speed;
  return {
    speed,
    now: opts.notAfter !== undefined ? () => Math.min(virtual(), opts.notAfter as number) : virtual,
    setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms / speed)),
  };
}

export const realClock: Clock = createClock();
