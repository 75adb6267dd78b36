import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.js';

export type { PrismaClient };

/**
 * A pg Client that sends its promise-form queries one after another: each waits until the
 * previous one has settled. Prisma's pg adapter (7.10) loads an `include`'s relations with
 * concurrent queries; inside `$transaction` they all go to the transaction's one connection,
 * where pg queues them and warns that it will refuse that from pg 9 ("Calling client.query()
 * when the client is already executing a query"). The queries, their order and the
 * transaction are the same; the queueing is ours instead of pg's. Callback-form queries (pg's
 * pool), a config's own callback and submittables pass straight through, to pg's own queue at
 * once: mixed on one client with promise-form calls still waiting here, they run first (Prisma
 * and pg's pool never mix them on a client).
 */
export class SerialClient extends pg.Client {
  #tail: Promise<void> | null = null;

  // biome-ignore lint/suspicious/noExplicitAny: pg's query() overloads, passed through as they are.
  override query(config: any, values?: any, callback?: any): any {
    if (
      typeof callback === 'function' ||
      typeof values === 'function' ||
      (config !== null &&
        typeof config === 'object' &&
        (typeof config.submit === 'function' || typeof config.callback === 'function'))
    )
      return super.query(config, values, callback);
    const run = (): Promise<unknown> => super.query(config, values) as Promise<unknown>;
    const before = this.#tail;
    const result = before ? before.then(run) : run();
    const settled = result.then(
      () => {},
      () => {},
    );
    this.#tail = settled;
    void settled.then(() => {
      if (this.#tail === settled) this.#tail = null;
    });
    return result;
  }
}

/** Prisma 7 client over the pg driver adapter (no Rust query engine). */
export function createPrisma(databaseUrl: string, opts: { max?: number } = {}): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: opts.max ?? 10, Client: SerialClient });
  return new PrismaClient({ adapter });
}
