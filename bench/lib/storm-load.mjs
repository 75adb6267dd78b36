// Load-generator child of the storm20k scenario: its share of the fleet reconnects at once
// when told ('go'), from loopback's own source address (unbound: the kernel picks the source
// port at connect) to the broker's port on several loopback destination addresses (device i
// to hosts[i % hosts.length]; see bench/lib/system.mjs, LOAD_DESTINATIONS): each device
// connects (MQTT Basic credentials when given), then sends its 8-message boot burst (QoS 1);
// a refused or failed connect reboots the device (retry after rebootMs) with the same
// credentials. Holds the connections until 'blackout' (every link dropped at once), reports
// over IPC. Times are epoch milliseconds so the parent can line up several children.
import { LeanMqttClient, mqttLinePayload, TELEMETRY_TOPIC } from '@spms/simulator';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
let clients = [];

async function storm({ port, hosts, creds, withAuth, timeoutS, rebootMs, connackTimeoutMs }) {
  const connackMs = [];
  const connectedAt = [];
  const refusals = {};
  const errorKinds = {};
  const connectedIdx = [];
  let refused = 0;
  let errors = 0;
  let lastConnected = null;
  let lastBooted = null;
  const deadline = now() + timeoutS * 1000;
  await Promise.all(
    creds.map(async (cr, i) => {
      while (now() < deadline) {
        const c = new LeanMqttClient({
          host: hosts[i % hosts.length],
          port,
          clientId: cr.clientId,
          ...(withAuth ? { username: cr.username, password: cr.password } : {}),
          keepalive: 120,
          connectTimeoutMs: connackTimeoutMs,
        });
        const a = now();
        try {
          await c.connect();
          const t = now();
          connackMs.push(t - a);
          connectedAt.push(t);
          lastConnected = Math.max(lastConnected ?? 0, t);
          clients.push(c);
          connectedIdx.push(i);
          await Promise.all(
            [1, 2, 3, 4, 5, 6, 7, 8].map((l) => c.publish(TELEMETRY_TOPIC, mqttLinePayload(l, true), 1)),
          );
          lastBooted = Math.max(lastBooted ?? 0, now());
          return;
        } catch (err) {
          if (err?.returnCode !== undefined) {
            refused++;
            refusals[err.returnCode] = (refusals[err.returnCode] ?? 0) + 1;
          } else {
            errors++;
            const kind = err?.code ?? err?.message ?? String(err);
            errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
          }
          c.destroy();
          await sleep(rebootMs);
        }
      }
    }),
  );
  return {
    connected: clients.length,
    connectedIdx,
    connackMs,
    connectedAt,
    refused,
    refusals,
    errors,
    errorKinds,
    lastConnected,
    lastBooted,
  };
}

process.on('message', async (m) => {
  if (m.cmd === 'go') process.send(await storm(m.run));
  else if (m.cmd === 'blackout') {
    for (const c of clients) c.destroy();
    clients = [];
    process.send({ done: true });
  } else if (m.cmd === 'exit') process.exit(0);
});
// The parent went away (ended or killed): do not keep its sockets open.
process.on('disconnect', () => process.exit(0));
