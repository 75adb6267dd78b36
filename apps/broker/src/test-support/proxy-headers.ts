/** PROXY headers as a balancer writes them, and a raw MQTT connect after one (tests only). */
import { execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@spms/testing';
import mqttPacket from 'mqtt-packet';
import {
  Command,
  INETProtocol,
  IPv4Address,
  IPv4ProxyAddress,
  Peer,
  TransportProtocol,
  V1ProxyProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';
import { connectPacket, until } from './harness.js';

export const v1 = (ip: string) =>
  Buffer.from(
    new V1ProxyProtocol(INETProtocol.TCP4, new Peer(ip, 40000), new Peer('10.0.0.2', 1883)).build(),
    'latin1',
  );
export const v2 = (ip: number[]) =>
  Buffer.from(
    new V2ProxyProtocol(
      Command.PROXY,
      TransportProtocol.STREAM,
      new IPv4ProxyAddress(IPv4Address.createFrom(ip), 40000, IPv4Address.createFrom([10, 0, 0, 2]), 1883),
    ).build(),
  );

/** Header and CONNECT in one write (the balancer may coalesce them); resolves with the CONNACK code. */
export function connackVia(
  socket: Socket | NodeJS.ReadWriteStream,
  first: Buffer,
  clientId: string,
  password: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') resolve((p as mqttPacket.IConnackPacket).returnCode ?? -1);
    });
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('close', () => reject(new Error('closed before CONNACK')));
    socket.on('error', () => undefined);
    socket.write(Buffer.concat([first, connectPacket(clientId, `user-${clientId}`, password)]));
  });
}

export function tcp(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Debian's haproxy is installed (CI installs it; a developer machine may not have it). */
export const hasHaproxy = (() => {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A broker's `spms_broker_refusals_total` for one reason, from its metrics port. */
export async function refusals(httpPort: number, reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`spms_broker_refusals_total{reason="${reason}"} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/**
 * A real HAProxy in TCP mode in front of one broker port, writing PROXY v2 headers (the
 * backend line of deploy/haproxy/haproxy.cfg); resolves once it accepts connections.
 */
export async function startHaproxy(brokerPort: number): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const cfg = join(tmpdir(), `spms-haproxy-${process.pid}-${port}.cfg`);
  writeFileSync(
    cfg,
    [
      'defaults',
      '    mode tcp',
      '    timeout connect 5s',
      '    timeout client 30s',
      '    timeout server 30s',
      'frontend mqtt',
      `    bind 127.0.0.1:${port}`,
      '    default_backend brokers',
      'backend brokers',
      `    server broker1 127.0.0.1:${brokerPort} send-proxy-v2`,
      '',
    ].join('\n'),
  );
  const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' });
  let failed: Error | undefined;
  haproxy.once('error', (err) => {
    failed = err; // no haproxy on this machine: the test fails with that, not an unhandled error
  });
  const stop = () => {
    haproxy.kill('SIGKILL');
    rmSync(cfg, { force: true });
  };
  try {
    await until(async () => {
      if (failed) throw new Error(`haproxy did not start: ${failed.message}`);
      const s = await tcp(port).catch(() => undefined);
      s?.destroy();
      return s !== undefined;
    }, 10_000);
  } catch (err) {
    stop();
    throw err;
  }
  return { port, stop };
}
