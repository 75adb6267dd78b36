/**
 * Child process of a multi-process load test: one process holds at most its open-file
 * limit of sockets (20,000 on the development machine), so 50,000 devices need several.
 */
import { type LoadTestOptions, loadTest } from './load-test.js';

const ac = new AbortController();
process.on('message', (msg: { cmd: 'run'; opts: LoadTestOptions } | { cmd: 'abort' }) => {
  if (msg.cmd === 'abort') return ac.abort();
  loadTest({ ...msg.opts, includeRaw: true, signal: ac.signal }).then(
    (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
    (err: Error) => process.send?.({ ok: false, error: err.message }, () => process.exit(1)),
  );
});
