// Ports for the launcher, the demo and the benchmarks. Plain JavaScript on purpose: `npm start`
// checks its ports before anything is built. (TypeScript tests use freePort from @spms/testing.)
import { createServer } from 'node:net';

/** Whether `port` can be listened on at `host` right now (0.0.0.0: on every interface). */
export function portFree(port, host = '0.0.0.0') {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** A loopback port that was free a moment ago (the system picks it). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
