/**
 * One row of the fault matrix: a fresh stack under steady load, the fault injected and
 * held, the component brought back, the load continued, then everything acknowledged
 * looked for in the database. Every wait is a bounded poll on a condition; the fixed
 * phases (load before / during / after) only decide how much traffic the fault meets.
 */
import type { AppName } from './app-process.js';
import { type Fleet, startHttpFleet, startMqttFleet } from './devices.js';
import { type FaultStack, startFaultStack } from './fault-stack.js';
import { type FaultRow, measureFault, measureRecovery, waitFor, waitRecorded } from './measure.js';

export const LOAD = {
  /** MQTT devices; each sends one line change every periodMs: 250 msg/s in all. */
  devices: 500,
  /** HTTP devices (the API's fault): 50 requests/s, each device one request at a time. */
  httpDevices: 100,
  periodMs: 2000,
  beforeMs: 4000,
  downMs: 2000,
  afterMs: 4000,
};

export interface FaultSpec {
  fault: string;
  label: string;
  apps: AppName[];
  transport: 'mqtt' | 'http';
  proxyPostgres?: boolean;
  /** Takes the component away. */
  inject(stack: FaultStack): Promise<void>;
  /** Holds the fault (default: LOAD.downMs); may record what it saw. */
  hold?(stack: FaultStack): Promise<void>;
  /** Brings the component back. */
  restore(stack: FaultStack): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFault(spec: FaultSpec): Promise<FaultRow> {
  const t0 = Date.now();
  // Phase lines with elapsed time: a slow or stuck phase is visible in CI's log.
  const phase = (what: string) =>
    console.log(`[fault] ${spec.fault} +${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  const stack = await startFaultStack(spec.label, { apps: spec.apps, proxyPostgres: spec.proxyPostgres ?? false });
  let fleet: Fleet | undefined;
  try {
    const count = spec.transport === 'mqtt' ? LOAD.devices : LOAD.httpDevices;
    const devices = await stack.addDevices(count, spec.transport);
    fleet =
      spec.transport === 'mqtt'
        ? startMqttFleet(stack.mqttPort, devices, LOAD.periodMs)
        : startHttpFleet(stack.apiUrl, devices, LOAD.periodMs);
    const ledger = fleet.ledger;
    phase('stack up, devices started');
    // Warm: the whole path works (acknowledged and recorded) before the fault.
    const warm = await waitFor(async () => {
      if (ledger.ackTimes.length < count / 2) return false;
      const { rows } = await stack.sql.query('SELECT EXISTS (SELECT 1 FROM line_events) AS e');
      return rows[0].e as boolean;
    }, 60_000);
    if (!warm) throw new Error(`${spec.fault}: no traffic before the fault (${ledger.ackTimes.length} acks)`);
    phase(`warm (${ledger.ackTimes.length} acknowledged; closes ${JSON.stringify([...fleet.closes])})`);
    await sleep(LOAD.beforeMs);
    phase('fault');

    await spec.inject(stack);
    await (spec.hold ? spec.hold(stack) : sleep(LOAD.downMs));
    phase('restore');
    const back = Date.now();
    await spec.restore(stack);
    const recovery = await measureRecovery(stack.sql, ledger, back, 120_000);
    // A component that died on its own is the finding; waiting for its data is pointless.
    const early = Object.values(stack.apps).flatMap((app) => app.crashes());
    if (early.length > 0) throw new Error(`${spec.fault}: ${early.join('\n')}`);
    phase(`recovered: ${JSON.stringify(recovery)}`);
    await sleep(LOAD.afterMs);

    // Stop producing; let the devices deliver what they still hold (bounded), then go.
    fleet.quiesce();
    await waitFor(() => fleet?.pending() === 0, 30_000);
    await fleet.close();
    phase(`load stopped (${fleet.pending()} never acknowledged)`);
    await waitRecorded(stack.sql, ledger, 120_000);
    await waitFor(async () => (await stack.queueDepth()) === 0, 60_000, 250);
    phase('drained');
    const crashes = Object.values(stack.apps).flatMap((app) => app.crashes());
    return { ...(await measureFault(spec.fault, stack.sql, ledger, recovery)), crashes };
  } catch (err) {
    for (const app of Object.values(stack.apps))
      console.error(`--- ${app.name} output ---\n${app.output().slice(-4000)}`);
    throw err;
  } finally {
    await fleet?.close();
    await stack.close();
  }
}
