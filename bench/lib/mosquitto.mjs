// A private Mosquitto on a free loopback port: the baseline broker (in memory, no auth, no
// durability). Private rather than the machine's :1883 so its memory is measured fresh and
// other users of that broker are not disturbed. Falls back to :1883 without the binary.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './system.mjs';

const reachable = (port) =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** @param opts.host the address to listen on (default 127.0.0.1; LISTEN_ALL for every loopback destination). */
export async function startMosquitto({ host = '127.0.0.1' } = {}) {
  const bin = spawnSync('sh', ['-c', 'command -v mosquitto || ls /usr/sbin/mosquitto'], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')[0];
  if (!bin) return { port: 1883, pid: null, version: 'machine Mosquitto at :1883', stop: async () => {} };
  const version = spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim() ?? 'mosquitto';
  const dir = mkdtempSync(join(tmpdir(), 'spms-bench-mosq-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} ${host}\nallow_anonymous true\npersistence false\nmax_queued_messages 10000\n`);
  const child = spawn(bin, ['-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 50 && !(await reachable(port)); i++) await sleep(100);
  return {
    port,
    pid: child.pid,
    version,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(3000)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
