/**
 * One rollout: its status and settings, progress per wave (counts by state, failure rate,
 * a bar each) and per device (paged, filtered by wave and state), pause/resume/cancel and
 * "roll back" for operators. The API's event stream carries no rollout events, so the page
 * reads the rollout again every few seconds while it is running or paused.
 */
import { useEffect, useState } from 'preact/hooks';
import { canEdit } from '../api/client.js';
import {
  DEVICE_STATES,
  type FirmwareRow,
  firmwareList,
  POLL_MS,
  type RolloutDetail,
  rollout,
  rolloutAction,
  unfinished,
} from '../api/firmware.js';
import { AdminTable, Notice } from '../components/admin-table.js';
import { RolloutForm } from '../components/rollout-form.js';
import { countsText, ProgressBar, StatusBadge } from '../components/rollout-progress.js';
import { fmtTime } from '../format.js';
import { navigate } from '../router.js';

const PAGE = 50;
const fmt = (iso: string | null) => fmtTime(iso ? Date.parse(iso) : null);
const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;

/** The newest upload of the same title before the rolled-out one: what a roll back most likely returns to. */
function previousOf(list: FirmwareRow[], r: RolloutDetail): string | undefined {
  const at = (f: FirmwareRow) => Date.parse(f.createdAt);
  const current = list.find((f) => f.id === r.firmware.id);
  const earlier = list
    .filter((f) => f.title === r.firmware.title && f.id !== r.firmware.id && (!current || at(f) < at(current)))
    .sort((a, b) => at(b) - at(a));
  return earlier[0]?.id;
}

export function RolloutDetailPage({ id }: { id: string }) {
  const operator = canEdit();
  const [r, setR] = useState<RolloutDetail | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [wave, setWave] = useState('');
  const [devState, setDevState] = useState('');
  const [offset, setOffset] = useState(0);
  const [firmware, setFirmware] = useState<FirmwareRow[] | null>(null);
  const [rollingBack, setRollingBack] = useState(false);

  useEffect(() => {
    let stale = false;
    rollout(id, { wave: wave ? Number(wave) : undefined, state: devState || undefined, limit: PAGE, offset }).then(
      (x) => !stale && setR(x),
      (err: Error) => !stale && setMsg(err.message),
    );
    return () => {
      stale = true;
    };
  }, [id, tick, wave, devState, offset]);
  const live = r != null && unfinished(r.status);
  useEffect(() => {
    if (!live) return;
    const t = setTimeout(() => setTick((n) => n + 1), POLL_MS);
    return () => clearTimeout(t);
  }, [live, tick]);

  if (!r)
    return msg ? (
      <p class="error">
        Rollout {id}: {msg}
      </p>
    ) : (
      <p class="muted">Loading rollout…</p>
    );

  const act = async (action: 'pause' | 'resume' | 'cancel') => {
    if (action === 'cancel' && !confirm('Cancel this rollout? Devices not yet assigned stay on their firmware.'))
      return;
    try {
      const x = await rolloutAction(id, action);
      setMsg(`Rollout ${x.status}${x.statusReason ? `: ${x.statusReason}` : ''}.`);
      setTick((n) => n + 1);
    } catch (err) {
      setMsg(`Not done: ${(err as Error).message}`);
    }
  };
  const startRollback = () => {
    setRollingBack(true);
    if (!firmware) firmwareList().then(setFirmware, (err: Error) => setMsg(err.message));
  };

  return (
    <div>
      <p class="small">
        <a href="/rollouts">← Rollouts</a>
      </p>
      <header class="device-head">
        <h1 style={{ marginLeft: 0 }}>
          {r.firmware.title} {r.firmware.version}
        </h1>
        <StatusBadge status={r.status} />
        {live && <span class="muted small">↻ every {POLL_MS / 1000} s</span>}
      </header>
      {r.statusReason && <p data-testid="rollout-reason">{r.statusReason}</p>}
      <Notice msg={msg} testId="rollout-msg" />
      {operator && (
        <div class="toolbar" data-testid="rollout-controls">
          {r.status === 'running' && (
            <button type="button" onClick={() => void act('pause')}>
              Pause
            </button>
          )}
          {r.status === 'paused' && (
            <button type="button" onClick={() => void act('resume')}>
              Resume
            </button>
          )}
          {live && (
            <button type="button" class="danger" onClick={() => void act('cancel')}>
              Cancel rollout
            </button>
          )}
          <button type="button" class="ghost" onClick={startRollback}>
            Roll back…
          </button>
        </div>
      )}
      {rollingBack && (
        <section class="card" aria-label="Roll back">
          <h2>Roll back</h2>
          <p class="small muted">
            A new rollout of an earlier version over the devices this one assigned (devices that never left it are
            skipped).{live ? ' Cancel this rollout first: its devices are still held by it.' : ''}
          </p>
          {firmware ? (
            <RolloutForm
              firmware={firmware}
              rollbackOf={r.id}
              defaultFirmware={previousOf(firmware, r)}
              onCancel={() => setRollingBack(false)}
              onCreated={(m, newId) => {
                setMsg(m);
                if (newId) {
                  setRollingBack(false);
                  navigate(`/rollouts/${newId}`);
                }
              }}
            />
          ) : (
            <p class="muted">Loading firmware…</p>
          )}
        </section>
      )}
      <section class="card" aria-label="Summary">
        <dl class="readonly">
          <dt>Devices</dt>
          <dd>
            {r.devices} · {countsText(r.counts)}
          </dd>
          <dt>Waves</dt>
          <dd>
            {r.waves.join(', ')} % · now wave {r.currentWave} of {r.waveCount}
          </dd>
          <dt>Limits</dt>
          <dd>
            at most {r.maxConcurrent} at once · pauses above {pct(r.failureThreshold)} failed · success within{' '}
            {r.successTimeoutSec != null ? `${r.successTimeoutSec} s` : 'three inactivity timeouts'}
          </dd>
          <dt>Started</dt>
          <dd>
            {fmt(r.createdAt)}
            {r.createdBy ? ` by ${r.createdBy}` : ''}
            {r.finishedAt ? ` · finished ${fmt(r.finishedAt)}` : ''}
          </dd>
        </dl>
      </section>
      <section class="card" aria-label="Waves">
        <h2>Waves</h2>
        <AdminTable testId="rollout-waves" cols={['Wave', 'Up to', 'Devices', 'Progress', 'Failure rate']}>
          {r.perWave.map((w) => (
            <tr key={w.wave} data-wave={w.wave} class={w.wave === r.currentWave && live ? 'active' : ''}>
              <td>
                {w.wave}
                {w.wave === r.currentWave && live ? ' ◀' : ''}
              </td>
              <td class="num">{w.targetPercent} %</td>
              <td class="num">{w.devices}</td>
              <td>
                <ProgressBar counts={w.counts} total={w.devices} testId={`wave-bar-${w.wave}`} />
                <div class="small muted">{countsText(w.counts)}</div>
              </td>
              <td class={`num${w.failureRate > r.failureThreshold ? ' error' : ''}`}>{pct(w.failureRate)}</td>
            </tr>
          ))}
        </AdminTable>
      </section>
      <section class="card" aria-label="Devices">
        <h2>Devices</h2>
        <div class="filters">
          <label>
            Wave
            <select
              value={wave}
              onChange={(e) => {
                setWave((e.currentTarget as HTMLSelectElement).value);
                setOffset(0);
              }}
            >
              <option value="">all</option>
              {r.perWave.map((w) => (
                <option key={w.wave} value={String(w.wave)}>
                  {w.wave}
                </option>
              ))}
            </select>
          </label>
          <label>
            State
            <select
              value={devState}
              onChange={(e) => {
                setDevState((e.currentTarget as HTMLSelectElement).value);
                setOffset(0);
              }}
            >
              <option value="">all</option>
              {DEVICE_STATES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        </div>
        <AdminTable
          testId="rollout-devices"
          cols={['Device', 'Wave', 'State', 'Assigned', 'Finished', 'Reported', 'Error']}
        >
          {r.perDevice.items.map((d) => (
            <tr key={d.deviceId} data-device={d.name} data-state={d.state}>
              <td>
                <a href={`/devices/${encodeURIComponent(d.name)}`}>{d.name}</a>
                {d.region && <div class="small muted">{d.region}</div>}
              </td>
              <td class="num">{d.wave}</td>
              <td>{d.state}</td>
              <td class="small">{fmt(d.assignedAt)}</td>
              <td class="small">{fmt(d.finishedAt)}</td>
              <td class="small">
                {d.reported
                  ? `${[d.reported.title, d.reported.version].filter(Boolean).join(' ') || '—'}${d.reported.state ? ` · ${d.reported.state}` : ''}`
                  : '—'}
              </td>
              <td class="small error">{d.error ?? ''}</td>
            </tr>
          ))}
        </AdminTable>
        <div class="toolbar">
          <span class="small muted">
            {r.perDevice.total ? `${offset + 1}–${offset + r.perDevice.items.length} of ${r.perDevice.total}` : 'none'}
          </span>
          <button
            type="button"
            class="small"
            disabled={offset === 0}
            onClick={() => setOffset(Math.max(0, offset - PAGE))}
          >
            Previous
          </button>
          <button
            type="button"
            class="small"
            disabled={offset + PAGE >= r.perDevice.total}
            onClick={() => setOffset(offset + PAGE)}
          >
            Next
          </button>
        </div>
      </section>
    </div>
  );
}
