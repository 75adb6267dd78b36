// A throwaway MQTT sink for measuring the simulator itself beyond one process's open-file
// limit: N cluster workers, each an in-memory aedes broker, sharing one loopback port.
// Usage: node bench/sink-cluster.mjs <port> <workers> <seconds> [raw]   (stops by itself)
// `raw`: no broker at all, just CONNACK/PINGRESP/PUBACK from a byte scan of whole packets,
// so what is measured is the simulator, not aedes.
import cluster from 'node:cluster';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const [port = '18830', workers = '3', seconds = '120', mode = 'aedes'] = process.argv.slice(2);
if (cluster.isPrimary) {
  // Workers accept on the shared socket themselves: round-robin through the primary is
  // IPC-bound and falls behind a few hundred connects per second.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < Number(workers); i++) cluster.fork();
  setTimeout(() => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  }, Number(seconds) * 1000);
} else if (mode === 'raw') {
  createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (buf) => {
      // Small test packets: remaining length fits one byte; good enough for a sink.
      for (let i = 0; i + 1 < buf.length; i += 2 + buf[i + 1]) {
        const type = buf[i] >> 4;
        if (type === 1) socket.write(Buffer.from([0x20, 2, 0, 0]));
        else if (type === 12) socket.write(Buffer.from([0xd0, 0]));
        else if (type === 3 && (buf[i] & 6) === 2) {
          const topicLen = buf.readUInt16BE(i + 2);
          socket.write(Buffer.from([0x40, 2, buf[i + 4 + topicLen], buf[i + 5 + topicLen]]));
        }
      }
    });
  }).listen({ port: Number(port), host: '127.0.0.1', backlog: 4096 });
} else {
  const broker = await Aedes.createBroker();
  createServer(broker.handle).listen({ port: Number(port), host: '127.0.0.1', backlog: 4096 });
}
