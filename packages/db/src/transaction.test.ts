import { createTestDatabase, type TestDatabase } from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool, type PoolClient } from './pool.js';
import { Rollback, withTransaction } from './transaction.js';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('with-tx');
  pool = createPool(db.url, { max: 2 });
  await pool.query('CREATE TABLE t (v int PRIMARY KEY)');
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const values = async () => (await pool.query<{ v: number }>('SELECT v FROM t ORDER BY v')).rows.map((r) => r.v);

describe('withTransaction', () => {
  it('commits what fn wrote and returns its result', async () => {
    const r = await withTransaction(pool, async (tx) => {
      await tx.query('INSERT INTO t VALUES (1)');
      return 'done';
    });
    expect(r).toBe('done');
    expect(await values()).toEqual([1]);
  });

  it('rolls everything back when fn throws, and the connection stays usable', async () => {
    await expect(
      withTransaction(pool, async (tx) => {
        await tx.query('INSERT INTO t VALUES (2)');
        await tx.query('INSERT INTO t VALUES (1)'); // duplicate key
      }),
    ).rejects.toThrow(/duplicate key/);
    expect(await values()).toEqual([1]);
    expect(pool.totalCount).toBeGreaterThan(0);
  });

  it('joins the caller transaction when given a client', async () => {
    await expect(
      withTransaction(pool, async (outer) => {
        await withTransaction(outer, async (inner) => {
          await inner.query('INSERT INTO t VALUES (3)');
        });
        throw new Error('outer fails after the inner part');
      }),
    ).rejects.toThrow('outer fails');
    expect(await values()).toEqual([1]);
  });

  it("answers a Rollback's value after undoing what fn wrote", async () => {
    const refuse = async (tx: PoolClient): Promise<string> => {
      await tx.query('INSERT INTO t VALUES (7)');
      throw new Rollback('refused');
    };
    expect(await withTransaction(pool, refuse)).toBe('refused');
    expect(await values()).toEqual([1]);
  });
});
