#!/usr/bin/env node
// Runs the planned SPMS processes (scripts/process-plan.mjs) from the built apps and keeps
// them running: brokers and API processes are cluster workers (they share MQTT_PORT /
// HTTP_PORT; Node 20 has no reusePort), ingest workers and alerts processes are plain child
// processes. With CLUSTER_SCHEDULING=os (default) every cluster worker accepts from the one
// shared listening socket itself (SCHED_NONE); with `primary` this process accepts each
// connection and passes it to the workers round-robin over IPC (SCHED_RR). A process that
// exits is restarted after a back-off (0.5 s doubling to 30 s; reset after a minute up)
// and the exit is logged. SIGINT/SIGTERM stops every process (SIGTERM, SIGKILL after 10 s).
// A process that exits by itself on its very first start within 15 s (a bad variable, a
// taken port) stops everything with its exit code instead: restarting would only repeat
// the same message.
//
// `npm start` calls this after building and migrating; run alone (node scripts/supervise.mjs)
// it expects built apps and a migrated database. Output lines are prefixed with the process
// label (broker1, worker2, api, alerts…).
import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { planProcesses } from './process-plan.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = (app) => join(root, 'apps', app, 'dist', 'main.js');

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;
const FIRST_START_MS = 15_000;
const STOP_GRACE_MS = 10_000;

function pipeLines(stream, prefix) {
  let buf = '';
  stream.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const line of lines) process.stdout.write(`${prefix}${line}\n`);
  });
}

/** Starts every planned process; resolves with a stop() that ends them all. */
export function supervise(env, plan, onFatal = () => {}) {
  const width = Math.max(6, ...plan.processes.map((p) => p.label.length));
  const slots = plan.processes.map((p) => ({ ...p, child: undefined, failures: 0, timer: undefined, starts: 0 }));
  let stopping = false;
  // Read by Node at the first setupPrimary/fork and fixed from then on (so per supervisor).
  cluster.schedulingPolicy = (plan.scheduling ?? 'os') === 'primary' ? cluster.SCHED_RR : cluster.SCHED_NONE;

  function start(slot) {
    const childEnv = { ...env, ...slot.env };
    let child;
    if (slot.cluster) {
      // setupPrimary applies to the next fork only as far as we are concerned: set it each time.
      cluster.setupPrimary({ exec: entry(slot.app), args: [], silent: true });
      child = cluster.fork(childEnv).process;
    } else {
      child = spawn(process.execPath, [entry(slot.app)], {
        cwd: root,
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    }
    const prefix = `${slot.label.padEnd(width)} | `;
    pipeLines(child.stdout, prefix);
    pipeLines(child.stderr, prefix);
    slot.child = child;
    const startedAt = Date.now();
    slot.starts++;
    console.log(`spms: ${slot.label} started (pid ${child.pid})`);
    child.once('exit', (code, signal) => {
      slot.child = undefined;
      if (stopping) return;
      if (slot.starts === 1 && signal === null && Date.now() - startedAt < FIRST_START_MS) {
        console.error(`spms: ${slot.label} (pid ${child.pid}) could not start (code ${code}); stopping the others`);
        onFatal(code || 1);
        return;
      }
      if (Date.now() - startedAt > HEALTHY_AFTER_MS) slot.failures = 0;
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** slot.failures);
      slot.failures++;
      console.error(
        `spms: ${slot.label} (pid ${child.pid}) exited (${signal ?? `code ${code}`}); restarting in ${(delay / 1000).toFixed(1)} s`,
      );
      slot.timer = setTimeout(() => start(slot), delay);
    });
  }

  for (const slot of slots) start(slot);

  return {
    /** Stops every process; resolves when all have exited. */
    stop() {
      stopping = true;
      const exits = [];
      for (const slot of slots) {
        clearTimeout(slot.timer);
        const child = slot.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) continue;
        exits.push(
          new Promise((resolve) => {
            const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
        );
      }
      return Promise.all(exits).then(() => undefined);
    },
  };
}

/** Supervises until SIGINT/SIGTERM, then exits 0 once every process has stopped. */
export function superviseUntilSignal(env, plan) {
  let once = false;
  const stopWith = (code) => {
    if (once) return;
    once = true;
    running.stop().then(() => process.exit(code));
  };
  const running = supervise(env, plan, stopWith);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      if (!once) console.log(`spms: ${sig}: stopping ${plan.processes.length} processes…`);
      stopWith(0);
    });
  }
  return running;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let plan;
  try {
    plan = planProcesses(process.env);
  } catch (err) {
    console.error(`spms: ${err.message}`);
    process.exit(1);
  }
  superviseUntilSignal(process.env, plan);
}
