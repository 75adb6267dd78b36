// One implementation for the scripts (which run before the build) and the tests, with one
// addition for the tests: Vitest runs test files in parallel worker processes, and a port one
// worker was given and has not bound yet could be handed to another. Each worker therefore only
// takes ports from its own slice (every SLICES-th block of 64 numbers, by VITEST_POOL_ID). Blocks,
// not single numbers, so that a port derived from a free one (the launcher's base + 2) is
// usually in the same slice too.
import { freePort as anyFreePort, portFree } from '../../../scripts/lib/ports.mjs';

export { portFree };

export const SLICES = 8;

/** The slice a port belongs to. */
export function sliceOf(port: number): number {
  return Math.floor(port / 64) % SLICES;
}

/** This worker's slice, or undefined outside Vitest. */
export function ownSlice(): number | undefined {
  const pool = Number(process.env.VITEST_POOL_ID);
  return Number.isInteger(pool) && pool > 0 ? (pool - 1) % SLICES : undefined;
}

/** A port on `host` (default loopback) that was free a moment ago, never one this process was
 * given before, and (in a Vitest worker) never one another worker can be given. */
export async function freePort(host?: string): Promise<number> {
  const slice = ownSlice();
  for (;;) {
    const port = await anyFreePort(host);
    if (slice === undefined || sliceOf(port) === slice) return port;
  }
}
