import { randomUUID } from 'node:crypto';
import { createPool, type Pool, withTransaction } from '@spms/db';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshFirmwareTargets, setDeviceFirmware, setProfileFirmware } from './assign.js';

const PROFILE = '00000000-0000-4000-8000-000000000001';
const OTHER_PROFILE = '00000000-0000-4000-8000-000000000002';
let db: TestDatabase;
let pg: Pool;

async function insertFirmware(title: string, version: string): Promise<string> {
  const { rows } = await pg.query(
    `INSERT INTO firmware (title, version, size, checksum_algorithm, checksum, sha256, data_oid)
     VALUES ($1, $2, 3, 'SHA256', 'abc', 'abc', lo_from_bytea(0, '\\x010203')) RETURNING id`,
    [title, version],
  );
  return rows[0].id;
}

async function insertDevices(n: number, profileId = PROFILE): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  await pg.query(
    `INSERT INTO devices (id, name, profile_id, updated_at) SELECT id, 'dev-' || id, $2, now() FROM unnest($1::uuid[]) id`,
    [ids, profileId],
  );
  return ids;
}

async function sharedFw(deviceId: string): Promise<Record<string, unknown>> {
  const { rows } = await pg.query(
    `SELECT key, value FROM device_attributes WHERE device_id = $1 AND scope = 'shared' AND key LIKE 'fw\\_%'`,
    [deviceId],
  );
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

beforeAll(async () => {
  db = await createTestDatabase('fw_assign');
  pg = createPool(db.url, { max: 4 });
});
afterAll(async () => {
  await pg.end();
  await db.drop();
});

describe('firmware assignment', () => {
  it("writes a profile's target to its devices; a device's own firmware wins; null clears", async () => {
    const a = await insertFirmware('fw', '1.0');
    const b = await insertFirmware('fw', '2.0');
    const [d1, d2] = (await insertDevices(2)) as [string, string];
    const profileChanges = await withTransaction(pg, (tx) => setProfileFirmware(tx, PROFILE, a));
    expect(profileChanges?.map((c) => c.deviceId)).toEqual(expect.arrayContaining([d1, d2]));
    expect(await sharedFw(d1)).toEqual({
      fw_title: 'fw',
      fw_version: '1.0',
      fw_size: 3,
      fw_checksum: 'abc',
      fw_checksum_algorithm: 'SHA256',
    });

    const own = await withTransaction(pg, (tx) => setDeviceFirmware(tx, [d2], b));
    expect(own).toEqual([{ deviceId: d2, target: expect.objectContaining({ id: b, version: '2.0', size: 3 }) }]);
    expect((await sharedFw(d2)).fw_version).toBe('2.0');

    // The profile's next change leaves the device with its own firmware alone.
    const cleared = await withTransaction(pg, (tx) => setProfileFirmware(tx, PROFILE, null));
    expect(cleared?.map((c) => c.deviceId)).not.toContain(d2);
    expect(await sharedFw(d1)).toEqual({});
    expect((await sharedFw(d2)).fw_version).toBe('2.0');

    // Back to the profile's (none): the attributes go.
    const back = await withTransaction(pg, (tx) => setDeviceFirmware(tx, [d2], null));
    expect(back).toEqual([{ deviceId: d2, target: null }]);
    expect(await sharedFw(d2)).toEqual({});
    const { rows } = await pg.query('SELECT pushed_firmware_id, pushed_at FROM device_firmware WHERE device_id = $1', [
      d2,
    ]);
    expect(rows[0].pushed_firmware_id).toBeNull();
    expect(rows[0].pushed_at).not.toBeNull();
  });

  it('recomputes a device moved to another profile, and a profile of many devices in one go', async () => {
    const c = await insertFirmware('other', '3.0');
    await withTransaction(pg, (tx) => setProfileFirmware(tx, OTHER_PROFILE, c));
    const ids = await insertDevices(2000, OTHER_PROFILE);
    const changes = await withTransaction(pg, (tx) => refreshFirmwareTargets(tx, ids));
    expect(changes).toHaveLength(2000);
    const { rows } = await pg.query(
      `SELECT count(*)::int AS n FROM device_attributes WHERE device_id = ANY($1::uuid[]) AND key = 'fw_version' AND value = '"3.0"'`,
      [ids],
    );
    expect(rows[0].n).toBe(2000);
    await withTransaction(pg, (tx) => setProfileFirmware(tx, OTHER_PROFILE, null));
  });
});
