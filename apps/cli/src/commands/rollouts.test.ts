/** spms rollout create|list|show|pause|resume|cancel in-process against the real API listening on a free port. */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../run.js';
import { type ListeningApi, startListeningApi } from '../test-support/listening-api.js';
import { createBody } from './rollouts.js';

const ADMIN_KEY = 'cli-rollout-admin-key-0123456789';
let api: ListeningApi;
let app: FastifyInstance;
let url: string;
let firmwareId: string;

beforeAll(async () => {
  api = await startListeningApi('cli_rollouts', ADMIN_KEY);
  ({ app, url } = api);
  const fw = await app.pg.query(
    `INSERT INTO firmware (title, version, size, checksum_algorithm, checksum, sha256, data_oid)
     VALUES ('spms-esp32', '2.0.0', 1, 'SHA256', 'abc', 'abc', lo_from_bytea(0, '\\x01')) RETURNING id`,
  );
  firmwareId = fw.rows[0].id;
  await app.pg.query(
    `INSERT INTO devices (id, name, region, profile_id, updated_at)
     SELECT gen_random_uuid(), 'CLI-' || n, 'North', '00000000-0000-4000-8000-000000000002', now()
       FROM generate_series(1, 12) n`,
  );
});
afterAll(async () => {
  await api?.close();
});

async function spms(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    args,
    { SPMS_API_URL: url, SPMS_API_KEY: ADMIN_KEY },
    {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('spms rollout', () => {
  it('turns flags into the API body and refuses bad ones before any request', () => {
    expect(
      createBody({
        firmware: 'f',
        region: 'North',
        device: ['A', 'B'],
        waves: '1, 10,100',
        'max-concurrent': '5',
        'failure-threshold': '0.2',
      }),
    ).toEqual({
      firmwareId: 'f',
      waves: [1, 10, 100],
      maxConcurrent: 5,
      failureThreshold: 0.2,
      scope: { region: 'North', devices: ['A', 'B'] },
    });
    expect(() => createBody({ firmware: 'f', waves: '1,x' })).toThrow(/--waves/);
    expect(() => createBody({ firmware: 'f', waves: '100', 'failure-threshold': '0' })).toThrow(
      /--max-concurrent is required/,
    );
    expect(() =>
      createBody({
        firmware: 'f',
        waves: '100',
        'max-concurrent': '1',
        'failure-threshold': '0',
        'rollback-of': 'r',
        region: 'N',
      }),
    ).toThrow(/--rollback-of/);
  });

  it('creates, lists, shows, pauses, resumes and cancels a rollout', async () => {
    const created = await spms([
      'rollout',
      'create',
      '--firmware',
      firmwareId,
      '--region',
      'North',
      '--waves',
      '10,50,100',
      '--max-concurrent',
      '3',
      '--failure-threshold',
      '0.2',
      '--json',
    ]);
    expect(created.code, created.err).toBe(0);
    const rollout = JSON.parse(created.out);
    expect(rollout.perWave.map((w: { devices: number }) => w.devices)).toEqual([2, 4, 6]);

    const list = await spms(['rollout', 'list']);
    expect(list.out).toMatch(new RegExp(`${rollout.id}\\s+spms-esp32 2.0.0\\s+running\\s+1/3`));
    const show = await spms(['rollout', 'show', rollout.id, '--wave', '1']);
    expect(show.out).toMatch(/status:\s+running/);
    expect(show.out).toMatch(/progress:\s+0\/12 done, 0 in flight, 0 failed/);
    expect(show.out.match(/^CLI-\d+/gm)).toHaveLength(2);

    expect((await spms(['rollout', 'pause', rollout.id])).out).toMatch(/: paused \(paused by /);
    expect((await spms(['rollout', 'resume', rollout.id])).out).toBe(`rollout ${rollout.id}: running`);
    expect((await spms(['rollout', 'cancel', rollout.id])).out).toMatch(/: cancelled \(cancelled by /);
    const again = await spms(['rollout', 'resume', rollout.id]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/HTTP 409 CONFLICT: rollout .* is cancelled: it cannot be running/);
    expect((await spms(['rollout', 'create', '--firmware', firmwareId, '--waves', '100'])).code).toBe(2);
  });
});
