/**
 * The listeners the configuration asks for: MQTT over TCP always, over TLS when a certificate
 * and key are given, over WebSocket when MQTT_WS_PORT is set; each with the PROXY protocol
 * header in front when MQTT_PROXY_PROTOCOL is on.
 */
import { type ConnectionHandler, maxPacketBytes } from './client-guards.js';
import type { GatewayContext } from './context.js';
import { type Listener, listenTcp, listenTls, listenWebSocket } from './listeners.js';

export interface OpenListeners {
  tcp: Listener;
  tls?: Listener;
  ws?: Listener;
}

/**
 * Opens them in order, adding each to `opened` as soon as it listens (the caller closes what
 * is there, also when a later one fails to open).
 */
export async function openListeners(
  ctx: Pick<GatewayContext, 'config' | 'metrics' | 'logger'>,
  handle: ConnectionHandler,
  opened: Listener[],
): Promise<OpenListeners> {
  const { config, logger } = ctx;
  const limits = {
    handshakeTimeoutMs: config.CONNECT_TIMEOUT_MS,
    maxWsMessageBytes: maxPacketBytes(config.MAX_PAYLOAD_BYTES),
  };
  const proxy = config.MQTT_PROXY_PROTOCOL
    ? {
        timeoutMs: config.CONNECT_TIMEOUT_MS,
        onInvalid: (why: string) => {
          ctx.metrics.refused.inc({ reason: 'proxy_header' });
          logger.debug({ why }, 'connection closed: PROXY protocol header');
        },
      }
    : undefined;
  const tcp = await listenTcp(handle, config.MQTT_PORT, config.MQTT_HOST, proxy);
  opened.push(tcp);
  let tls: Listener | undefined;
  if (config.MQTT_TLS_CERT && config.MQTT_TLS_KEY) {
    tls = await listenTls(
      handle,
      config.MQTTS_PORT,
      config.MQTT_HOST,
      config.MQTT_TLS_CERT,
      config.MQTT_TLS_KEY,
      limits,
      proxy,
    );
    opened.push(tls);
  } else if (config.MQTT_TLS_CERT || config.MQTT_TLS_KEY) {
    throw new Error('MQTT TLS needs both MQTT_TLS_CERT and MQTT_TLS_KEY');
  }
  let ws: Listener | undefined;
  if (config.MQTT_WS_PORT !== undefined) {
    ws = await listenWebSocket(handle, config.MQTT_WS_PORT, config.MQTT_HOST, limits, proxy);
    opened.push(ws);
  }
  return { tcp, ...(tls ? { tls } : {}), ...(ws ? { ws } : {}) };
}
