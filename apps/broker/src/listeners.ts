/**
 * The broker's network listeners: MQTT over TCP, over TLS, and over WebSocket. A port that
 * is taken fails the start at once with the port and the variable to change — 1883 is
 * often held by another broker (Mosquitto on the development machines).
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { ConnectionHandler } from './client-guards.js';
import { type ProxyProtocolOptions, withProxyHeader } from './proxy-protocol.js';

export interface Listener {
  port: number;
  close(): Promise<void>;
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

/**
 * Pending-connection queue per listener (all broker processes share one: cluster). Node's
 * default (511) overflowed in the reconnect storm benchmark (a grid restore: thousands of
 * CONNECTs at once). The kernel caps it at net.core.somaxconn (4096 on many systems), and an
 * overflow is worse than a refusal: the kernel drops the handshake's last ACK and the CONNECT
 * behind it, the device believes it is connected, and its CONNECT arrives only at its next
 * retransmission, seconds later — in a warm 10,000-device storm thousands of sockets were
 * accepted with no CONNECT for over CONNECT_TIMEOUT_MS and closed (TcpExtListenOverflows).
 * Hence as deep as the kernel allows; docs/scaling.md says to raise somaxconn.
 */
const LISTEN_BACKLOG = 65_535;

function listen(
  server: Server | HttpServer,
  port: number,
  host: string,
  variable: string,
  what: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(
          new PortInUseError(
            `${what} port ${port} is already in use (another MQTT broker?): set ${variable} to a free port`,
          ),
        );
      else if (err.code === 'EACCES')
        reject(
          new PortInUseError(
            `${what} port ${port} needs privileges on this host: set ${variable} to a port above 1023`,
          ),
        );
      else reject(err);
    };
    server.once('error', onError);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** Closes the servers in order, each once (a listener's front server may be the server itself). */
function closer(...servers: (Server | HttpServer)[]): () => Promise<void> {
  return async () => {
    for (const server of new Set(servers))
      await new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
      });
  };
}

/** Bounds applied before MQTT starts: TLS handshake, WebSocket upgrade, WebSocket frame size. */
export interface ListenerLimits {
  /** Milliseconds for a TLS handshake or an HTTP upgrade request (CONNECT_TIMEOUT_MS). */
  handshakeTimeoutMs: number;
  /** Largest WebSocket message: one MQTT packet of the largest accepted size. */
  maxWsMessageBytes: number;
}

/**
 * Every device socket without Nagle's algorithm, set once at accept. Devices ask and wait
 * (attribute request, RPC, firmware chunk): with Nagle, an answer written while an earlier
 * segment was unacknowledged waited for the device's delayed ACK (~40 ms a firmware chunk,
 * measured). WebSocket sockets get it from ws, which sets it on every upgrade.
 */
function withNoDelay<S extends Socket>(handle: ConnectionHandler): (socket: S) => void {
  return (socket) => {
    socket.setNoDelay(true);
    handle(socket);
  };
}

/**
 * A listener's first stage for sockets that reach MQTT only later (PROXY header, TLS
 * handshake): counted by the guards from their accept, or closed at once when too many
 * connections are waiting for their CONNACK (client-guards.ts).
 */
function early(handle: ConnectionHandler, next: (socket: Socket) => void): (socket: Socket) => void {
  return (socket) => {
    if (handle.accepted(socket)) next(socket);
  };
}

/** PROXY protocol on a listener (MQTT_PROXY_PROTOCOL): absent = bare connections only. */
export type ProxyHeaders = ProxyProtocolOptions | undefined;

export async function listenTcp(
  handle: ConnectionHandler,
  port: number,
  host: string,
  proxy?: ProxyHeaders,
): Promise<Listener> {
  const direct = withNoDelay(handle);
  const server = createNetServer(
    proxy
      ? early(
          handle,
          withProxyHeader(proxy, (socket, rest) => {
            // aedes reads the JavaScript stream: the bytes after the header go back on it.
            if (rest.length > 0) socket.unshift(rest);
            direct(socket);
          }),
        )
      : direct,
  );
  const bound = await listen(server, port, host, 'MQTT_PORT', 'MQTT');
  return { port: bound, close: closer(server) };
}

export async function listenTls(
  handle: ConnectionHandler,
  port: number,
  host: string,
  certPath: string,
  keyPath: string,
  limits: ListenerLimits,
  proxy?: ProxyHeaders,
): Promise<Listener> {
  const read = (path: string, variable: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const server = createTlsServer(
    {
      cert: read(certPath, 'MQTT_TLS_CERT'),
      key: read(keyPath, 'MQTT_TLS_KEY'),
      // Node's default is 120 s: a socket stuck in the handshake is an unauthenticated one.
      handshakeTimeout: limits.handshakeTimeoutMs,
    },
    withNoDelay(handle),
  );
  // A handshake timeout or failure is reported here; Node leaves the socket open otherwise.
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  // A plain TCP server accepts (counting the socket among those without CONNACK from now) and
  // hands the socket to the TLS server, which takes over its handle. Behind a balancer that
  // passes TLS through with PROXY headers, it reads the header first; the bytes that came with
  // it (often the start of the ClientHello) go back on the socket's stream: Node's TLS reads
  // what the stream holds before it reads the handle.
  const toTls = (socket: Socket) => server.emit('connection', socket);
  const front = createNetServer(
    early(
      handle,
      proxy
        ? withProxyHeader(proxy, (socket, rest) => {
            if (rest.length > 0) socket.unshift(rest);
            toTls(socket);
          })
        : toTls,
    ),
  );
  const bound = await listen(front, port, host, 'MQTTS_PORT', 'MQTT/TLS');
  return {
    port: bound,
    close: closer(front, server),
  };
}

export async function listenWebSocket(
  handle: ConnectionHandler,
  port: number,
  host: string,
  limits: ListenerLimits,
  proxy?: ProxyHeaders,
): Promise<Listener> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: upgrade required\n');
  });
  // A socket that never completes its upgrade request is closed like a silent MQTT one.
  // Node checks headersTimeout/requestTimeout only every 30 s and only on a server that
  // listens itself (not on sockets handed over after a PROXY header), so each socket also
  // gets the bound as an idle timeout, which ws clears (setTimeout(0)) once upgraded.
  server.headersTimeout = limits.handshakeTimeoutMs;
  server.requestTimeout = limits.handshakeTimeoutMs;
  // Counted among the connections without CONNACK from their accept (from before the PROXY
  // header, if any: the front below), or closed at once when too many are waiting.
  server.on('connection', (socket: Socket) => {
    if (!proxy && !handle.accepted(socket)) return;
    socket.setTimeout(limits.handshakeTimeoutMs, () => socket.destroy());
  });
  const wss = new WebSocketServer({
    server,
    // ws buffers a whole message before emitting it, up to 100 MiB by default, before any
    // authentication: cap it at one MQTT packet (close code 1009 beyond it).
    maxPayload: limits.maxWsMessageBytes,
    // MQTT over WebSocket uses the "mqtt" subprotocol (MQTT 3.1.1 §6); older clients send "mqttv3.1".
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  wss.on('connection', (ws, req) => {
    const stream = createWebSocketStream(ws);
    stream.on('error', () => stream.destroy());
    handle(stream, req);
  });
  // Behind a balancer sending PROXY headers, a plain TCP server reads the header and hands
  // the socket to the HTTP server, which parses natively: the bytes after the header are
  // given to it as a `data` event.
  const front = proxy
    ? createNetServer(
        early(
          handle,
          withProxyHeader(proxy, (socket, rest) => {
            server.emit('connection', socket);
            if (rest.length > 0) socket.emit('data', rest);
            socket.resume();
          }),
        ),
      )
    : server;
  const bound = await listen(front, port, host, 'MQTT_WS_PORT', 'MQTT over WebSocket');
  return {
    port: bound,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await closer(front, server)();
    },
  };
}
