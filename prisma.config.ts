// Prisma 7 configuration. The connection URL is only needed by commands that talk to the
// database (`prisma migrate deploy|status` on machines that have the schema engine);
// `prisma generate` does not need it.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/spms' },
});
