#!/usr/bin/env node
// Runs `prisma generate` so that it also works offline.
//
// Every Prisma CLI command first tries to download the Rust schema engine, even though
// `generate` never uses it (Prisma 7's client is Rust-free). Where the download host is
// unreachable the command fails. Pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file
// stops the download; we point it at a stub that explains itself if anything ever runs it,
// rather than at /bin/false, which would fail silently. Migrations never need the engine
// here: `npm run db:migrate` applies them with our own runner (packages/db/src/migrate).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const stubDir = join(root, 'node_modules', '.cache', 'spms');
  const stub = join(stubDir, 'schema-engine-stub');
  if (!existsSync(stub)) {
    mkdirSync(stubDir, { recursive: true });
    writeFileSync(
      stub,
      '#!/bin/sh\necho "schema engine unavailable offline: use npm run db:migrate (SPMS migration runner)" >&2\nexit 1\n',
    );
    chmodSync(stub, 0o755);
  }
  env.PRISMA_SCHEMA_ENGINE_BINARY = stub;
}
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
const bin = join(root, 'node_modules', '.bin', 'prisma');
if (!existsSync(bin)) {
  console.error('prisma CLI not installed yet; run `npm ci` first');
  process.exit(1);
}
const r = spawnSync(bin, ['generate'], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
