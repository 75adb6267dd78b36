/**
 * A private redis-server for tests that kill Redis: its own free port and data directory,
 * AOF on, started and SIGKILLed by the test and restarted on the same port and directory.
 * Never the machine's shared Redis, which other tests use at the same time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

export interface PrivateRedisOptions {
  /** `always`: an acknowledged write is on disk before the reply; `everysec`: what the compose file runs. */
  appendfsync: 'always' | 'everysec';
}

export interface PrivateRedis {
  port: number;
  url: string;
  dir: string;
  /** SIGKILL (no shutdown, no final fsync) and wait for the process to exit. */
  kill(): Promise<void>;
  /** Starts again on the same port and directory; resolves once it answers PING (AOF loaded). */
  start(): Promise<void>;
  /** Kills it and deletes its directory. */
  destroy(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPrivateRedis(opts: PrivateRedisOptions): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'spms-redis-'));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
    args.push('--appendonly', 'yes', '--appendfsync', opts.appendfsync, '--maxmemory-policy', 'noeviction');
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    child = proc;
    const exited = new Promise<void>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code} while starting`))),
    );
    exited.catch(() => {});
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      // Up to ~20 s: a loaded machine, or a long AOF to replay (PING answers LOADING meanwhile).
      for (let i = 0; i < 400; i++) {
        if (proc.exitCode !== null) await exited;
        try {
          if (probe.status !== 'ready') await probe.connect().catch(() => probe.disconnect());
          if ((await probe.ping()) === 'PONG') return;
        } catch {
          // not up yet
        }
        await sleep(50);
      }
      throw new Error(`redis-server on port ${port} did not answer PING`);
    } finally {
      probe.disconnect();
    }
  }

  async function kill(): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    kill,
    start,
    async destroy() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
