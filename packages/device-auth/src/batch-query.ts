/**
 * Look-ups grouped while the database is busy: at most `maxConcurrent` queries run at once
 * (the pool's size), and keys asked for meanwhile wait and go together into the next query
 * (up to `maxKeys`). One device alone is asked for at once; a storm of 10,000 cold CONNECTs
 * becomes a few dozen queries instead of 10,000 queued on four connections, where each would
 * wait for its own turn and many would time out.
 */
import type { RowQuery } from './cache.js';
import type { CredentialsRow } from './rules.js';

interface Waiter {
  keys: string[];
  resolve: (rows: Map<string, CredentialsRow>) => void;
  reject: (err: Error) => void;
}

export function batchedQuery(query: RowQuery, maxConcurrent: number, maxKeys = 500): RowQuery {
  const waiting: Waiter[] = [];
  let running = 0;

  function pump(): void {
    while (running < maxConcurrent && waiting.length > 0) {
      const batch: Waiter[] = [];
      const keys = new Set<string>();
      while (waiting.length > 0 && (batch.length === 0 || keys.size + (waiting[0]?.keys.length ?? 0) <= maxKeys)) {
        const w = waiting.shift() as Waiter;
        batch.push(w);
        for (const k of w.keys) keys.add(k);
      }
      running++;
      query([...keys]).then(
        (rows) => {
          running--;
          pump();
          for (const w of batch) w.resolve(rows);
        },
        (err: Error) => {
          running--;
          pump();
          for (const w of batch) w.reject(err);
        },
      );
    }
  }

  return (keys) =>
    new Promise((resolve, reject) => {
      waiting.push({ keys, resolve, reject });
      pump();
    });
}
