/**
 * Password hashing for the CSV import. Supplied device passwords are hashed with scrypt
 * (4 MiB, ~10-40 ms of CPU each) on libuv's thread pool, which sign-ins, DNS and file I/O
 * share. So an import hashes only once every row has passed validation (a rejected file or
 * a dry run costs no scrypt), each request supplies at most IMPORT_MAX_SUPPLIED_PASSWORDS,
 * and all imports of the process together run at most HASH_CONCURRENCY hashes at once:
 * concurrent imports queue behind each other instead of filling the pool.
 */
import { hashSecret } from '@spms/credentials';

const HASH_CONCURRENCY = 2;

/** A counting semaphore: `run` starts `fn` once fewer than `limit` others are running. */
export function createLimiter(limit: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async function run<T>(fn: () => Promise<T>): Promise<T> {
    if (running < limit) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      // Hand the slot straight to the next waiter (running stays the same), or free it.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

const limit = createLimiter(HASH_CONCURRENCY);

export interface PasswordToHash {
  password: string;
  origin: 'generated' | 'supplied';
}

/** Hashes in order; generated secrets (sha256) skip the queue, supplied ones share the limiter. */
export function hashImportPasswords(items: PasswordToHash[]): Promise<string[]> {
  return Promise.all(
    items.map((i) =>
      i.origin === 'generated' ? hashSecret(i.password, 'generated') : limit(() => hashSecret(i.password, 'supplied')),
    ),
  );
}
