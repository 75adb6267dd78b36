import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** prisma/migrations at the repository root (works from src/ under vitest and from dist/). */
export const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'prisma', 'migrations');
