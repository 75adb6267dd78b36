// Preloaded into the system's processes by `npm run soak` (NODE_OPTIONS=--import …): every
// SOAK_HEAP_INTERVAL_MS it runs a full GC and appends process.memoryUsage() as one JSON line
// to SOAK_HEAP_DIR/<pid>.jsonl. The GC first makes heapUsed the retained heap, so a slope over
// the run is a leak and not the collector's sawtooth. The worker has no HTTP port, so a file.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const dir = process.env.SOAK_HEAP_DIR;
if (dir) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const file = join(dir, `${process.pid}.jsonl`);
  const sample = () => {
    gc();
    const m = process.memoryUsage();
    appendFileSync(file, `${JSON.stringify({ t: Date.now(), ...m })}\n`);
  };
  setInterval(sample, Number(process.env.SOAK_HEAP_INTERVAL_MS ?? 10_000)).unref();
  setTimeout(sample, 1000).unref();
}
