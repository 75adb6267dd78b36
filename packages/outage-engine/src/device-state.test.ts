import { describe, expect, it } from 'vitest';
import {
  applyDeviceActivity,
  type ConnectivityKind,
  DEFAULT_INACTIVITY_TIMEOUT_MS,
  type DeviceFacts,
  deviceActivityState,
  EMPTY_DEVICE_FACTS,
} from './device-state.js';

const fold = (events: [number, ConnectivityKind | 'telemetry'][]): DeviceFacts =>
  events.reduce((f, [ts, kind]) => applyDeviceActivity(f, ts, kind), EMPTY_DEVICE_FACTS);

describe('device activity state', () => {
  const T = DEFAULT_INACTIVITY_TIMEOUT_MS.mqtt;

  it('never seen before any activity', () => {
    expect(deviceActivityState(EMPTY_DEVICE_FACTS, { timeoutMs: T, now: 0 })).toMatchObject({
      status: 'never_seen',
      active: false,
    });
  });

  it('active until exactly lastActivity + timeout, inactive at that instant', () => {
    const facts = fold([
      [0, 'connect'],
      [30_000, 'telemetry'],
    ]);
    expect(deviceActivityState(facts, { timeoutMs: T, now: 30_000 + T - 1 })).toMatchObject({ status: 'active' });
    expect(deviceActivityState(facts, { timeoutMs: T, now: 30_000 + T })).toMatchObject({
      status: 'inactive',
      active: false,
      inactiveAt: 30_000 + T,
      lastActivity: 30_000,
      lastConnect: 0,
    });
  });

  it('a lost TCP connection shows at once, before the device is declared offline', () => {
    const facts = fold([
      [0, 'connect'],
      [30_000, 'telemetry'],
      [40_000, 'connection_lost'],
    ]);
    expect(deviceActivityState(facts, { timeoutMs: T, now: 40_000 })).toMatchObject({
      status: 'connection_lost',
      active: true,
      lastDisconnect: 40_000,
      // The broker noticing the loss is not device activity: offline counts from the last word.
      inactiveAt: 30_000 + T,
    });
    expect(deviceActivityState(facts, { timeoutMs: T, now: 30_000 + T }).status).toBe('inactive');
  });

  it('reconnecting clears connection lost; a clean DISCONNECT shows as disconnected', () => {
    const lost = fold([
      [0, 'connect'],
      [10, 'keepalive_timeout'],
      [20, 'connect'],
    ]);
    expect(deviceActivityState(lost, { timeoutMs: T, now: 30 }).status).toBe('active');
    const clean = fold([
      [0, 'connect'],
      [10, 'disconnect'],
    ]);
    expect(deviceActivityState(clean, { timeoutMs: T, now: 30 }).status).toBe('disconnected');
  });

  it('a replaced session is activity, not a loss', () => {
    const facts = fold([
      [0, 'connect'],
      [10, 'connect'],
      [11, 'session_replaced'],
    ]);
    expect(deviceActivityState(facts, { timeoutMs: T, now: 20 }).status).toBe('active');
  });

  it('HTTP devices use their own timeout: 15 min of silence is still active', () => {
    const facts = fold([[0, 'telemetry']]);
    const now = 15 * 60_000;
    expect(deviceActivityState(facts, { timeoutMs: DEFAULT_INACTIVITY_TIMEOUT_MS.http, now }).status).toBe('active');
    expect(deviceActivityState(facts, { timeoutMs: T, now }).status).toBe('inactive');
  });

  it('facts do not depend on the order events are delivered in', () => {
    const events: [number, ConnectivityKind | 'telemetry'][] = [
      [0, 'connect'],
      [5, 'telemetry'],
      [9, 'connection_lost'],
      [9, 'disconnect'],
      [7, 'activity'],
    ];
    expect(fold([...events].reverse())).toEqual(fold(events));
    expect(fold(events)).toMatchObject({ lastActivity: 9, lastDisconnect: 9, lastDisconnectKind: 'connection_lost' });
  });
});
