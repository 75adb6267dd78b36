/**
 * The fleet view's snapshot (device_status_rows) as the worker keeps it: after real batches
 * (lines dropping and coming back, voltage, a lost connection) and a sweep (inactivity), a
 * recomputation of every row from the source tables changes nothing; registry edits of
 * lines reach it through the device_lines triggers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const COLUMNS = `device_id::text, active, connection, last_activity_at, inactive_since, volts, volts_at, volts_level,
  line_labels, lines_disabled, lines_reported, lines_powered, lines_outage, line_since`;
const rows = async (h: Harness) =>
  (await h.pool.query(`SELECT ${COLUMNS} FROM device_status_rows ORDER BY device_id`)).rows;

/** The rows as the worker left them, then as a recomputation from the source tables gives them. */
async function maintainedAndRecomputed(h: Harness) {
  const maintained = await rows(h);
  await h.pool.query('SELECT status_rows_refresh(ARRAY(SELECT id FROM devices))');
  return { maintained, recomputed: await rows(h) };
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('device_status_rows', () => {
  it('is kept equal to its recomputation by ingest batches and the sweeper', async () => {
    h = await createHarness('status_rows');
    const a = await h.addDevice({ timeoutSec: 2 });
    const b = await h.addDevice({ timeoutSec: 600 });
    await h.pool.query(
      `INSERT INTO device_lines (device_id, number, label)
       SELECT d, n, CASE n WHEN 1 THEN 'CEB' ELSE 'TP ' || n END FROM unnest($1::uuid[]) d, generate_series(1, 8) n`,
      [[a, b]],
    );
    // Created by the device_lines trigger, before any report: registry facts, nothing live.
    expect(await rows(h)).toMatchObject([
      { lines_reported: 0, active: false, line_labels: expect.stringContaining('1:CEB') },
      { lines_reported: 0, active: false },
    ]);
    await h.start({ SWEEP_INTERVAL_MS: '100' });
    const t = Date.now();
    const boot = (dev: string, at: number) =>
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => telemetry(dev, `{'${n}':'true'}`, at + n));
    await h.enqueue([...boot(a, t), ...boot(b, t), telemetry(b, "{'V':229.5}", t + 20)]);
    await h.enqueue([telemetry(b, "{'3':'false'}", t + 100), telemetry(a, "{'5':'false'}", t + 100)]);
    await h.enqueue([telemetry(a, "{'5':'true'}", t + 200), telemetry(b, "{'V':250.1}", t + 200)]);
    await h.drained(3);
    const live = await maintainedAndRecomputed(h);
    expect(live.maintained).toEqual(live.recomputed);
    const byId = new Map(live.maintained.map((r) => [r.device_id, r]));
    expect(byId.get(b)).toMatchObject({ active: true, lines_reported: 255, lines_powered: 255 & ~0b100 });
    expect(byId.get(b)?.lines_outage).toBe(0b100);
    expect(byId.get(b)?.volts_level).toBe('over');
    expect(byId.get(a)).toMatchObject({ lines_powered: 255, lines_outage: 0 });
    // The sweeper turns device a inactive (timeout 2 s): its row follows in the same transaction.
    const harness = h;
    await until(
      async () =>
        (await harness.pool.query('SELECT active FROM device_status_rows WHERE device_id = $1', [a])).rows[0]
          ?.active === false,
      5000,
    );
    const swept = await maintainedAndRecomputed(h);
    expect(swept.maintained).toEqual(swept.recomputed);
    expect(swept.maintained.find((r) => r.device_id === a)?.inactive_since).not.toBeNull();
  });

  it('follows registry edits of lines (labels, monitoring, removal) through the triggers', async () => {
    h = await createHarness('status_rows_reg');
    const a = await h.addDevice();
    await h.pool.query(
      `INSERT INTO device_lines (device_id, number, label) SELECT $1, n, 'L' || n FROM generate_series(1, 4) n`,
      [a],
    );
    await h.pool.query(`UPDATE device_lines SET label = 'Mains', enabled = false WHERE device_id = $1 AND number = 2`, [
      a,
    ]);
    let [row] = await rows(h);
    expect(row).toMatchObject({ line_labels: '1:L1\u001f2:Mains\u001f3:L3\u001f4:L4', lines_disabled: 0b10 });
    await h.pool.query('DELETE FROM device_lines WHERE device_id = $1 AND number > 2', [a]);
    [row] = await rows(h);
    expect(row?.line_labels).toBe('1:L1\u001f2:Mains');
    await h.pool.query('DELETE FROM devices WHERE id = $1', [a]);
    expect(await rows(h)).toEqual([]);
  });
});
