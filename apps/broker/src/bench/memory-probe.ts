/**
 * Preloaded into the broker by the memory benchmark (`node --import …/memory-probe.js main.js`,
 * spawned with an IPC channel). On request it runs a full GC, then answers with
 * process.memoryUsage() and V8's heap statistics, or writes a heap snapshot. The GC first
 * makes heapUsed the retained heap, so deltas are what connections keep, not garbage.
 */
import { getHeapStatistics, setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Request = { id: number; cmd: 'memory'; gc?: boolean } | { id: number; cmd: 'snapshot'; path: string };

if (process.send) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  process.channel?.unref();
  process.on('message', (msg: Request) => {
    if (!(msg.cmd === 'memory' && msg.gc === false)) {
      gc();
      gc();
    }
    if (msg.cmd === 'snapshot') {
      writeHeapSnapshot(msg.path);
      process.send?.({ id: msg.id, path: msg.path });
      return;
    }
    const m = process.memoryUsage();
    const h = getHeapStatistics();
    process.send?.({
      id: msg.id,
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      mallocedMemory: h.malloced_memory,
      totalPhysicalSize: h.total_physical_size,
    });
  });
}
