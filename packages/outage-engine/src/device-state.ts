/** Connectivity facts from the gateway (same names as @spms/queue's ConnectivityEvent). */
export type ConnectivityKind =
  | 'connect'
  | 'disconnect'
  | 'connection_lost'
  | 'keepalive_timeout'
  | 'session_replaced'
  | 'activity';

export interface DeviceFacts {
  lastActivity: number | null;
  lastConnect: number | null;
  lastDisconnect: number | null;
  /** Kind of the newest disconnect: a clean DISCONNECT or a lost TCP connection. */
  lastDisconnectKind: 'disconnect' | 'connection_lost' | null;
}

export const EMPTY_DEVICE_FACTS: DeviceFacts = {
  lastActivity: null,
  lastConnect: null,
  lastDisconnect: null,
  lastDisconnectKind: null,
};

/** Suggested inactivity timeouts: MQTT devices speak every 30 s, HTTP ones every 15 min. */
export const DEFAULT_INACTIVITY_TIMEOUT_MS = { mqtt: 120_000, http: 35 * 60_000 } as const;

export type DeviceStatus = 'never_seen' | 'active' | 'connection_lost' | 'disconnected' | 'inactive';

export interface DeviceActivity {
  status: DeviceStatus;
  /** ThingsBoard's flag: now < lastActivity + timeout. */
  active: boolean;
  lastActivity: number | null;
  lastConnect: number | null;
  lastDisconnect: number | null;
  /** lastActivity + timeout: when it is (or was) declared inactive. Schedule a check then. */
  inactiveAt: number | null;
}

/**
 * Folds one activity into the facts. Order-insensitive (newest wins), so replays and
 * out-of-order delivery give the same facts. Every kind counts as activity (as ThingsBoard).
 */
export function applyDeviceActivity(facts: DeviceFacts, ts: number, kind: ConnectivityKind | 'telemetry'): DeviceFacts {
  throw new Error('not implemented');
}

/**
 * Device state at `now`: inactive from exactly lastActivity + timeout. Before that, a lost
 * TCP connection newer than the last connect shows at once as 'connection_lost'.
 */
export function deviceActivityState(facts: DeviceFacts, opts: { timeoutMs: number; now: number }): DeviceActivity {
  throw new Error('not implemented');
}
