import { PrismaPg } from '@prisma/adapter-pg';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PrismaClient } from './generated/prisma/client.js';
import { createPrisma, SerialClient } from './prisma.js';

// pg warns (and from pg 9 refuses) when query() is called while the client still has a query
// queued behind the one it runs. Every call to pg's own query() records how many queries
// that client already had in hand (running + queued).
const busyAtCall: number[] = [];
const original = pg.Client.prototype.query;
const spyOnPgQuery = () =>
  // biome-ignore lint/suspicious/noExplicitAny: pg's query() overloads, passed through.
  vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: any, ...args: any[]) {
    busyAtCall.push((this._queryQueue?.length ?? 0) + (this._activeQuery ? 1 : 0));
    return original.apply(this, args as Parameters<typeof original>);
  });

const INCLUDE = {
  profile: { include: { firmware: true } },
  lines: { orderBy: { number: 'asc' } },
  credentials: true,
  firmware: true,
  firmwareStatus: true,
} as const;

let db: TestDatabase;
let prisma: PrismaClient;
let deviceId: string;

beforeAll(async () => {
  db = await createTestDatabase('serial-client');
  prisma = createPrisma(db.url, { max: 2 });
  const profile = await prisma.deviceProfile.create({ data: { name: 'serial-client' } });
  const device = await prisma.device.create({
    data: {
      name: 'SERIAL_1',
      profileId: profile.id,
      lines: { create: [1, 2, 3].map((number) => ({ number, label: `L${number}` })) },
    },
  });
  deviceId = device.id;
});

afterEach(() => {
  vi.restoreAllMocks();
  busyAtCall.length = 0;
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

/** A connected SerialClient for `fn`, ended afterwards. */
async function withSerialClient(fn: (client: SerialClient) => Promise<void>): Promise<void> {
  const client = new SerialClient({ connectionString: db.url });
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}

describe('SerialClient', () => {
  it('sends concurrent promise-form queries one at a time, each with its own result, in order', async () => {
    await withSerialClient(async (client) => {
      spyOnPgQuery();
      const order: number[] = [];
      const results = await Promise.all(
        [5, 4, 3, 2, 1].map((n) =>
          client.query('SELECT pg_sleep($1::int / 1000.0), $1::int AS n', [n]).then((r) => {
            order.push(n);
            return r.rows[0].n;
          }),
        ),
      );
      expect(results).toEqual([5, 4, 3, 2, 1]);
      expect(order).toEqual([5, 4, 3, 2, 1]);
      expect(busyAtCall).toEqual([0, 0, 0, 0, 0]);
    });
  });

  it('a failed query does not stop the ones after it', async () => {
    await withSerialClient(async (client) => {
      const [bad, good] = await Promise.allSettled([client.query('SELECT 1/0'), client.query('SELECT 2 AS v')]);
      expect(bad.status).toBe('rejected');
      expect(String((bad as PromiseRejectedResult).reason)).toMatch(/division by zero/);
      expect(good.status === 'fulfilled' && good.value.rows[0].v).toBe(2);
    });
  });

  it("pg's callback forms work as they do on pg.Client", async () => {
    await withSerialClient(async (client) => {
      const viaArg = await new Promise((resolve, reject) =>
        client.query('SELECT 1 AS v', (err: Error | null, res: { rows: { v: number }[] }) =>
          err ? reject(err) : resolve(res.rows[0].v),
        ),
      );
      const viaConfig = await new Promise((resolve, reject) =>
        client.query({
          text: 'SELECT $1::int AS v',
          values: [2],
          callback: (err: Error | null, res: { rows: { v: number }[] }) => (err ? reject(err) : resolve(res.rows[0].v)),
        } as never),
      );
      expect([viaArg, viaConfig]).toEqual([1, 2]);
    });
  });

  it("Prisma's relation loads inside $transaction never find the connection busy", async () => {
    spyOnPgQuery();
    const inTx = await prisma.$transaction(async (tx) =>
      tx.device.findUnique({ where: { id: deviceId }, include: INCLUDE }),
    );
    expect(busyAtCall.length).toBeGreaterThan(3);
    expect(Math.max(...busyAtCall)).toBe(0);
    const outside = await prisma.device.findUnique({ where: { id: deviceId }, include: INCLUDE });
    expect(inTx).toEqual(outside);
    expect(inTx?.lines.map((l) => l.number)).toEqual([1, 2, 3]);
  });

  it('(control) with pg.Client the same transaction piles queries onto the connection', async () => {
    const plain = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url, max: 2 }) });
    process.noDeprecation = true; // the warning this shows is expected here; kept out of the test output
    try {
      spyOnPgQuery();
      await plain.$transaction(async (tx) => tx.device.findUnique({ where: { id: deviceId }, include: INCLUDE }));
      expect(Math.max(...busyAtCall)).toBeGreaterThan(1);
    } finally {
      process.noDeprecation = false;
      await plain.$disconnect();
    }
  });
});
