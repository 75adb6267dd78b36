#!/usr/bin/env node
// The device-auth credentials look-up (packages/device-auth, LOOKUP_SQL) as PostgreSQL runs
// it: round trip and PostgreSQL backend CPU per look-up (/proc/<backend pid>/stat: same machine
// only), with the auth pool's generic plans and with PostgreSQL's automatic choice (a custom
// plan per execution), on a fleet never analysed and after ANALYZE; beside it the plain join
// the look-up used before, whose generic plan scans every device while the tables have no
// statistics. 1- and 2-key look-ups as a cold storm makes them (docs/scaling.md).
//
//   node bench/lookup-plan.mjs [devices=50000] [lookups=3000]
import { readFileSync } from 'node:fs';
import { createPool } from '@spms/db';
import { LOOKUP_SQL } from '@spms/device-auth';
import { createTestDatabase } from '@spms/testing';

const JOIN_SQL = `
  SELECT c.credentials_id, c.type::text AS type, c.client_id, c.username, c.password_hash,
         d.id AS device_id, d.name AS device_name, d.profile_id, p.transport::text AS transport
    FROM device_credentials c
    JOIN devices d ON d.id = c.device_id
    JOIN device_profiles p ON p.id = d.profile_id
   WHERE c.credentials_id = ANY($1::text[])`;
const N = Number(process.argv[2] ?? 50_000);
const LOOKUPS = Number(process.argv[3] ?? 3000);
const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
};

const db = await createTestDatabase('lookupplan');
try {
  const seed = createPool(db.url, { max: 1 });
  await seed.query(
    `WITH d AS (INSERT INTO devices (id, name, profile_id, updated_at)
       SELECT gen_random_uuid(), 'dev-' || i, (SELECT id FROM device_profiles LIMIT 1), now()
         FROM generate_series(0, $1::int - 1) i RETURNING id, name)
     INSERT INTO device_credentials (device_id, type, credentials_id, updated_at)
     SELECT id, 'ACCESS_TOKEN', 'key-' || substr(name, 5), now() FROM d`,
    [N],
  );
  console.log(`${N} devices, ${LOOKUPS} look-ups of 1 or 2 keys each (half unknown), one connection`);
  for (const stats of ['never analysed', 'analysed']) {
    if (stats === 'analysed') await seed.query('ANALYZE devices; ANALYZE device_credentials; ANALYZE device_profiles');
    for (const [label, sql, genericPlans] of [
      ['look-up, generic plan (as shipped)', LOOKUP_SQL, true],
      ['look-up, plan per execution', LOOKUP_SQL, false],
      ['plain join, generic plan', JOIN_SQL, true],
    ]) {
      const pool = createPool(db.url, { max: 1, genericPlans });
      const pid = (await pool.query('SELECT pg_backend_pid() AS p')).rows[0].p;
      const run = async () => {
        for (let i = 0; i < LOOKUPS; i++) {
          const keys = [`key-${(i * 7919) % N}`, ...(i % 2 ? ['unknown'] : [])];
          await pool.query({ name: 'lookup', text: sql, values: [keys] });
        }
      };
      await run(); // warm: the statement prepared, the catalog cached, the pages in memory
      const c0 = ticks(pid);
      const t0 = performance.now();
      await run();
      const us = ((performance.now() - t0) * 1000) / LOOKUPS;
      const cpu = ((ticks(pid) - c0) * 10_000) / LOOKUPS;
      console.log(
        `${stats.padEnd(15)} ${label.padEnd(36)} round trip ${us.toFixed(0).padStart(4)} µs, PostgreSQL CPU ${cpu.toFixed(0).padStart(4)} µs`,
      );
      await pool.end();
    }
  }
  await seed.end();
} finally {
  await db.drop();
}
process.exit(0);
