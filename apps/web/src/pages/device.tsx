/** Device: the 8-line panel, activity, voltage, outage timeline, notes, credentials, claiming, firmware and RPC. */
import { useEffect, useState } from 'preact/hooks';
import { deviceState } from '../api/client.js';
import type { DeviceStatus } from '../api/normalize.js';
import { DeviceAdmin } from '../components/device-admin.js';
import { DeviceClaim } from '../components/device-claim.js';
import { DeviceFirmware } from '../components/device-firmware.js';
import { DeviceRpc } from '../components/device-rpc.js';
import { LineTimeline } from '../components/line-timeline.js';
import { VoltageChart } from '../components/voltage-chart.js';
import { fmtAgo, fmtTime, fmtVolt, HEALTH, LINE } from '../format.js';
import { useFleet, useLiveEvents } from '../live.js';

export function DevicePage({ id }: { id: string }) {
  const [device, setDevice] = useState<DeviceStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const { status } = useFleet();

  useEffect(() => {
    let stale = false;
    deviceState(id).then(
      (d) => {
        if (stale) return;
        setDevice(d);
        setError(null);
      },
      (err: Error) => !stale && setError(err.message),
    );
    return () => {
      stale = true;
    };
  }, [id, tick]);

  // Any event for this device (or a poll tick) re-reads it; the fleet store covers the rest.
  useLiveEvents(
    (e) => {
      if (!e.deviceId || e.deviceId === device?.id || e.deviceId === id) setTick((n) => n + 1);
    },
    [device?.id, id],
  );

  // The fleet status is fresher than our last fetch when an event arrived without a device id.
  const fromFleet = status?.devices.find((d) => d.id === device?.id || d.name === id);
  const d =
    device && fromFleet?.lines.length
      ? { ...device, ...fromFleet, label: device.label, voltageLimits: device.voltageLimits }
      : device;

  if (error && !d)
    return (
      <p class="error">
        Device {id}: {error}
      </p>
    );
  if (!d) return <p class="muted">Loading {id}…</p>;
  const h = HEALTH[d.health];
  return (
    <div class="device">
      <header class="device-head">
        <h1>
          {d.name} {d.label && <span class="muted">· {d.label}</span>}
        </h1>
        <span class={`badge big ${h.cls}`} data-testid="device-health">
          {h.icon} {h.text}
        </span>
        <span
          class={`badge ${d.active ? 'ok' : d.active === false ? 'offline' : 'unknown'}`}
          data-testid="device-active"
        >
          {d.active ? '● Active' : d.active === false ? '✕ Inactive' : '? Activity unknown'}
        </span>
        <span class="muted">
          Last activity {fmtTime(d.lastActivityAt)} ({fmtAgo(d.lastActivityAt)}){d.region ? ` · ${d.region}` : ''}
          {d.connectionLost ? ' · connection lost' : ''}
        </span>
      </header>

      <section aria-label="Lines" class="lines" data-testid="line-panel">
        {(d.lines.length ? d.lines : emptyLines()).map((l) => {
          const s = d.active === false ? LINE.unknown : LINE[l.state];
          return (
            <div
              key={l.number}
              class={`line ${s.cls}`}
              data-line={l.number}
              data-state={d.active === false ? 'unknown' : l.state}
            >
              <span class="line-no">{l.number}</span>
              <span class="line-label">{l.label}</span>
              <span class="line-state">
                {s.icon} {s.text}
              </span>
              <span class="line-since small">since {fmtTime(l.since)}</span>
            </div>
          );
        })}
      </section>
      <p class="muted small">
        Voltage {fmtVolt(d.voltage)} at {fmtTime(d.voltageAt)} · open outages {d.openOutages}
        {d.active === false ? ' · device offline: line states unknown until it reconnects' : ''}
      </p>

      <VoltageChart deviceId={d.id || id} limits={d.voltageLimits} />
      <LineTimeline deviceId={d.id || id} lines={d.lines} refreshKey={tick} />
      <DeviceAdmin id={d.id || id} onSaved={() => setTick((n) => n + 1)} />
      <DeviceClaim id={d.id || id} refreshKey={tick} onClaimed={() => setTick((n) => n + 1)} />
      <DeviceFirmware id={d.id || id} refreshKey={tick} />
      <DeviceRpc id={d.id || id} />
    </div>
  );
}

const emptyLines = () =>
  ['CEB', 'TP 2', 'TP 3', 'TP 4', 'TP 5', 'TP 6', 'TP 7', 'MSAN'].map((label, i) => ({
    number: i + 1,
    label,
    state: 'unknown' as const,
    since: null,
  }));
