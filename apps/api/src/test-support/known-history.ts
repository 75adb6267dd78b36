/**
 * A small known history for the read-side tests (plain SQL, as the worker would have
 * written it). One local day, 2026-01-10 in Asia/Colombo (UTC+05:30):
 * device N1 (region North, customer C1) and S1 (region South, customer C2), 8 lines each.
 */
type Db = { query(sql: string, params?: unknown[]): Promise<unknown> };

export const DAY_FROM = '2026-01-10T00:00:00+05:30';
export const DAY_TO = '2026-01-11T00:00:00+05:30';
const at = (local: string) => `2026-01-10T${local}:00+05:30`;
export const N1 = '00000000-0000-4000-8000-000000000001';
export const S1 = '00000000-0000-4000-8000-000000000002';
const PROFILE = '00000000-0000-4000-8000-0000000000aa';

export async function seedKnownHistory(db: Db): Promise<void> {
  await db.query(`INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'SPMS-test', now())`, [PROFILE]);
  await db.query(
    `INSERT INTO devices (id, name, region, customer, profile_id, latitude, longitude, notes, created_at, updated_at)
     VALUES ($1, 'N1_MSAN', 'North', 'C1', $3, 6.9, 79.8, 'no antenna', '2025-01-01Z', now()),
            ($2, 'S1_MSAN', 'South', 'C2', $3, NULL, NULL, NULL, '2025-01-01Z', now())`,
    [N1, S1, PROFILE],
  );
  await db.query(
    `INSERT INTO device_lines (device_id, number, label)
     SELECT d, n, CASE n WHEN 1 THEN 'CEB' WHEN 8 THEN 'MSAN' ELSE 'TP ' || n END
       FROM unnest($1::uuid[]) d, generate_series(1, 8) n`,
    [[N1, S1]],
  );
  // N1: online now with line 4 down; S1: offline (its lines are unknown).
  await db.query(
    `INSERT INTO device_state (device_id, active, connection, last_activity_at, inactive_since, volts, volts_at, volts_level)
     VALUES ($1, true, 'connected', now(), NULL, 229.5, now(), 'normal'),
            ($2, false, 'lost', now() - interval '1 hour', now() - interval '58 minutes', 0, now() - interval '1 hour', 'absent')`,
    [N1, S1],
  );
  await db.query(
    `INSERT INTO line_state (device_id, line, powered, since, last_ts, last_msg_id)
     SELECT $1::uuid, n, n <> 4, '2026-01-10T12:00:00+05:30'::timestamptz, now(), 'm' || n FROM generate_series(1, 8) n
     UNION ALL
     SELECT $2::uuid, n, true, '2026-01-10T09:30:00+05:30'::timestamptz, now(), 's' || n FROM generate_series(1, 8) n`,
    [N1, S1],
  );
  const outages: [string, number, string, string | null, number, string, boolean][] = [
    // device, line, start, end, unknownMs, class, planned
    [N1, 1, at('10:00'), at('11:00'), 0, 'sustained', false], // 60 min
    [N1, 2, at('10:00'), at('10:02'), 0, 'momentary', false], // 2 min
    [N1, 3, '2026-01-09T23:00:00+05:30', at('01:00'), 0, 'sustained', false], // carried in: 60 min inside
    [N1, 4, at('12:00'), null, 0, 'sustained', false], // open
    [N1, 5, at('14:00'), at('15:00'), 15 * 60_000, 'sustained', false], // 15 min offline inside: 45 min
    [S1, 1, at('09:00'), at('09:30'), 0, 'sustained', false], // 30 min
    [S1, 2, at('16:00'), at('17:00'), 0, 'sustained', true], // planned (worker flag)
  ];
  for (const [i, [device, line, start, end, unknown, cls, planned]] of outages.entries()) {
    await db.query(
      `INSERT INTO outages (device_id, line, started_at, ended_at, unknown_ms, duration_ms, class, planned, start_msg_id,
                            utility_feed, start_window_from, start_window_to)
       VALUES ($1, $2::smallint, $3::timestamptz, $4::timestamptz, $5::bigint,
               CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE (extract(epoch FROM $4::timestamptz - $3::timestamptz) * 1000)::bigint - $5::bigint END,
               $6, $7, $8, $2::smallint = 1, $9::timestamptz, $10::timestamptz)`,
      [
        device,
        line,
        start,
        end,
        unknown,
        cls,
        planned,
        `o${i}`,
        i === 0 ? at('09:58') : null,
        i === 0 ? at('10:00') : null,
      ],
    );
  }
  // N1 offline 14:30-14:45 local: 8 lines × 15 min of unknown line time.
  await db.query(`INSERT INTO device_offline_periods (device_id, started_at, ended_at) VALUES ($1, $2, $3)`, [
    N1,
    at('14:30'),
    at('14:45'),
  ]);
  await refreshStatusRows(db);
}

/** The fleet view's rows (device_status_rows), as the worker refreshes them after its writes. */
export async function refreshStatusRows(db: Db): Promise<void> {
  await db.query('SELECT status_rows_refresh(ARRAY(SELECT id FROM devices))');
}
