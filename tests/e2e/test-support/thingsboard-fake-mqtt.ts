/**
 * A local stand-in for ThingsBoard's MQTT transport, for the cut-over bridge's tests: an
 * aedes broker that admits a device by its ThingsBoard credentials (access token as the
 * username; MQTT Basic client id + username + password) and records every accepted
 * publish with the identity it was made under. It can be stopped (ThingsBoard down) and
 * started again on the same port; what it recorded is kept. Test-only.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type Client } from 'aedes';
import type { FakeDevice } from './thingsboard-fake.js';

export interface TbPublishRecord {
  device: string;
  clientId: string;
  username: string;
  topic: string;
  payload: unknown;
}

export interface FakeThingsBoardMqtt {
  url: string;
  port: number;
  published: TbPublishRecord[];
  refused: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function identify(devices: FakeDevice[], clientId: string, username: string, password: string | undefined) {
  for (const d of devices) {
    const c = d.credentials;
    if (!c) continue;
    if (c.credentialsType === 'ACCESS_TOKEN' && c.credentialsId === username) return d.name;
    if (c.credentialsType === 'MQTT_BASIC' && c.credentialsValue) {
      const v = JSON.parse(c.credentialsValue) as { clientId?: string; userName?: string; password?: string | null };
      if (v.clientId === clientId && v.userName === username && (v.password ?? undefined) === password) return d.name;
    }
  }
  return null;
}

export async function startFakeThingsBoardMqtt(devices: FakeDevice[]): Promise<FakeThingsBoardMqtt> {
  const who = new WeakMap<Client, { device: string; username: string }>();
  let broker: Aedes | undefined;
  let server: Server | undefined;
  let sockets = new Set<Socket>();
  let port = 0;
  const fake: FakeThingsBoardMqtt = {
    url: '',
    port: 0,
    published: [],
    refused: 0,
    async start() {
      const b = await Aedes.createBroker({
        authenticate(client, username, password, done) {
          const name = identify(devices, client.id, username ?? '', password?.toString('utf8'));
          if (!name) {
            fake.refused++;
            const err = Object.assign(new Error('Not authorized'), { returnCode: 5 });
            return done(err as never, false);
          }
          who.set(client, { device: name, username: username ?? '' });
          done(null, true);
        },
        authorizePublish(client, packet, done) {
          const id = client ? who.get(client) : undefined;
          if (id && client) {
            const text = packet.payload.toString('utf8');
            let payload: unknown = text;
            try {
              payload = JSON.parse(text);
            } catch {
              // recorded as text
            }
            fake.published.push({
              device: id.device,
              clientId: client.id,
              username: id.username,
              topic: packet.topic,
              payload,
            });
          }
          done(null);
        },
      });
      broker = b;
      const srv = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        b.handle(socket);
      });
      server = srv;
      await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
      port = (srv.address() as { port: number }).port;
      fake.port = port;
      fake.url = `mqtt://127.0.0.1:${port}`;
    },
    async stop() {
      const srv = server;
      const b = broker;
      server = undefined;
      broker = undefined;
      for (const s of sockets) s.destroy();
      sockets = new Set();
      if (srv) await new Promise<void>((r) => srv.close(() => r()));
      if (b) await new Promise<void>((r) => b.close(() => r()));
    },
    async close() {
      await fake.stop();
    },
  };
  await fake.start();
  return fake;
}
