// Ports for the launcher, the demo, the benchmarks and the tests (@spms/testing re-exports
// these, typed by ports.d.mts). Plain JavaScript on purpose: `npm start` checks its ports
// before anything is built. Tests never use fixed ports: 1883 is Mosquitto's here.
import { createServer } from 'node:net';

/** Whether `port` can be listened on at `host` right now (0.0.0.0: on every interface). */
export function portFree(port, host = '0.0.0.0') {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

// Ports this process has already handed out. The system may pick a port again as soon as it
// is closed, so two calls in a row (MQTT_PORT, then BROKER_HTTP_PORT) could get the same one;
// a repeat is skipped. Other processes can still be given a port we hold but have not bound yet.
const handedOut = new Set();

/** A port on `host` (default loopback) that was free a moment ago (the system picks it), never
 * one this process was given before. */
export async function freePort(host = '127.0.0.1') {
  for (;;) {
    const port = await systemPort(host);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

function systemPort(host) {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
