import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, ownSlice, sliceOf } from './ports.js';

describe('freePort', () => {
  it('never hands the same port out twice in one process, and each one can be listened on', async () => {
    // The system is free to pick a port again as soon as it was closed; 300 draws repeat one
    // nearly every time.
    const ports: number[] = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    const last = ports.at(-1) as number;
    const s = createServer();
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(last, '127.0.0.1', resolve);
    });
    await new Promise((r) => s.close(r));
  });

  it("keeps to this Vitest worker's own slice, so parallel workers are never given the same port", async () => {
    const slice = ownSlice();
    expect(slice).toBeTypeOf('number');
    for (let i = 0; i < 50; i++) expect(sliceOf(await freePort())).toBe(slice);
  });
});
