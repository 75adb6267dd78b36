/** Measurement helpers for the gateway benchmark: connection storms, RSS and CPU of a pid. */

import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { RawClient } from './raw-client.js';

/** Loopback source addresses, so connection counts are not capped by one address's ports. */
export const localAddress = (i: number) => `127.0.${1 + (Math.floor(i / 250) % 250)}.${1 + (i % 250)}`;

export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
}

export async function connectAll(
  n: number,
  port: number,
  user: (i: number) => string | undefined,
  tag: string,
): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  const batch = 200; // a reconnect storm, but not a SYN flood
  for (let i = 0; i < n; i += batch) {
    const group = [];
    for (let j = i; j < Math.min(n, i + batch); j++)
      group.push(
        RawClient.connect({ port, localAddress: localAddress(j), clientId: `${tag}-${j}`, username: user(j) }),
      );
    clients.push(...(await Promise.all(group)));
  }
  return clients;
}

export async function idleMemory(
  count: number,
  port: number,
  pid: number,
  user: (i: number) => string | undefined,
  tag: string,
): Promise<{ n: number; perConnKiB: number }> {
  const before = rssKiB(pid);
  const clients = await connectAll(count, port, user, tag);
  await new Promise((r) => setTimeout(r, 2000));
  const after = rssKiB(pid);
  for (const c of clients) c.close();
  await new Promise((r) => setTimeout(r, 1000));
  return { n: clients.length, perConnKiB: (after - before) / clients.length };
}

export async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = netConnect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on port ${port}`);
}
