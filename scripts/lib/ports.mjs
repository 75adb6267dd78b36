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

/** A port on `host` (default loopback) that was free a moment ago (the system picks it). */
export function freePort(host = '127.0.0.1') {
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
