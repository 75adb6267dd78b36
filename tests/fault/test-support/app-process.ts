/**
 * An app (broker, worker, API) as a real child process running its built entry point
 * (apps/<app>/dist/main.js, built by CI before `npm test`), so a test can SIGKILL it and
 * start it again with the same environment. Its stderr/stdout are kept (last 64 KiB) to
 * explain a failure.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export type AppName = 'broker' | 'worker' | 'api';

const mainOf = (app: AppName) => `${repoRoot}apps/${app}/dist/main.js`;

/** A developer running the file alone may not have built; CI has. */
export function ensureBuilt(apps: AppName[]): void {
  if (apps.every((a) => existsSync(mainOf(a)))) return;
  const r = spawnSync('npx', ['tsc', '-b', ...apps.map((a) => `apps/${a}`)], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building the apps failed');
}

export interface AppProcess {
  name: AppName;
  /** Spawns the process (again); `ready` is awaited when given. */
  start(): Promise<void>;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** What the process wrote lately. */
  output(): string;
  /** Exits the test did not cause (crashes), with the output before each. */
  crashes(): string[];
  /** The running process's pid (throws when it is not running). */
  pid(): number;
}

export function createAppProcess(
  name: AppName,
  env: Record<string, string>,
  ready?: () => Promise<boolean>,
): AppProcess {
  let child: ChildProcess | undefined;
  let out = '';
  const crashes: string[] = [];
  let expectingExit = false;
  // FAULT_LOG_DIR=<dir>: also append everything to <dir>/<app>.log (with FAULT_LOG_LEVEL=info, say).
  const logDir = process.env.FAULT_LOG_DIR;
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-65_536);
    if (logDir) appendFileSync(`${logDir}/${name}.log`, d);
  };
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  async function signal(sig: NodeJS.Signals, graceMs?: number): Promise<void> {
    const proc = child;
    if (!proc || !running()) return;
    const exited = new Promise((r) => proc.once('exit', r));
    expectingExit = true;
    proc.kill(sig);
    if (graceMs === undefined) return void (await exited);
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  return {
    name,
    async start() {
      if (running()) throw new Error(`${name} is already running`);
      const proc = spawn(process.execPath, [mainOf(name)], {
        cwd: repoRoot,
        env: { ...process.env, LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? 'warn', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      expectingExit = false;
      proc.once('exit', (code, sig) => {
        if (!expectingExit) crashes.push(`${name} exited (${sig ?? code}) on its own:\n${out.slice(-3000)}`);
      });
      proc.stdout?.on('data', keep);
      proc.stderr?.on('data', keep);
      if (!ready) return;
      const end = Date.now() + 30_000;
      while (!(await ready().catch(() => false))) {
        if (!running()) throw new Error(`${name} exited while starting:\n${out.slice(-4000)}`);
        if (Date.now() > end) throw new Error(`${name} not ready after 30 s:\n${out.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM', 10_000),
    output: () => out,
    crashes: () => [...crashes],
    pid() {
      if (!running() || child?.pid === undefined) throw new Error(`${name} is not running`);
      return child.pid;
    },
  };
}

/** Readiness probe: GET url answers 200. */
export function httpReady(url: string): () => Promise<boolean> {
  return async () => (await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 200;
}
