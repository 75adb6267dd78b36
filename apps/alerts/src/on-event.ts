/**
 * Handler of the `domain-events` queue: raises alerts from outage / offline / voltage events,
 * clears them on the matching restoration, schedules the debounce timer, and texts the
 * restoration of an alert people were told about. Every step is idempotent (unique
 * condition keys, once-only guards, deterministic job ids), so redelivered events and
 * several alerts workers are harmless.
 */
import { debounceDelayMs, severityOf } from '@spms/alerting';
import type { DomainEvent, QueuedEventType } from '@spms/contracts';
import { type DebounceJob, jobId } from '@spms/contracts';
import { withTransaction } from '@spms/db';
import { isImportedMessageId } from '@spms/queue';
import type { Job } from 'bullmq';
import type { AlertsContext } from './context.js';
import { restoreEscalated } from './escalation-flush.js';
import { ensureTimers, fanOut, type WindowRef } from './fan-out.js';
import { isFlapping, recordTransition } from './flapping.js';
import {
  type AlertRow,
  clearAlert,
  type DeviceContext,
  loadDevice,
  markRestorationNotified,
  type RaiseInput,
  raiseAlert,
  voidAlert,
} from './store.js';

export function createEventHandler(ctx: AlertsContext) {
  return async (job: Job<DomainEvent<QueuedEventType>>): Promise<void> => {
    const e = job.data;
    if (startedByImport(e)) return;
    switch (e.type) {
      case 'outage.opened':
      case 'outage.closed': {
        const o = e.payload.outage;
        const device = await loadDevice(ctx.pool, e.deviceId, o.line ?? null);
        if (!device) return; // deleted device
        const input: RaiseInput = {
          type: 'outage',
          conditionKey: `outage/${e.deviceId}/${o.line}/${o.startMsgId}`,
          severity: severityOf('outage', {
            wholeSite: e.payload.wholeSite === true,
            utilityFeed: e.payload.utilityFeed === true,
          }),
          device,
          line: o.line ?? null,
          startedAt: o.startedAt,
          clearedAt: o.endedAt,
          eventId: e.id,
          details: {
            startMsgId: o.startMsgId,
            label: device.lineLabel ?? e.payload.label ?? null,
            wholeSite: e.payload.wholeSite === true,
            utilityFeed: e.payload.utilityFeed === true,
          },
        };
        if (e.type === 'outage.opened' && o.endedAt === null) {
          const alert = await raiseAndDebounce(ctx, input);
          await recordTransition(ctx, e, device, alert);
          return;
        }
        const alert =
          o.endedAt === null
            ? await raiseAlert(ctx.pool, input)
            : await clearAlert(ctx.pool, { ...input, clearedAt: o.endedAt });
        await recordTransition(ctx, e, device, alert);
        // While the line flaps its alerts are held: the flapping notice said so.
        if (await isFlapping(ctx, e.deviceId, alert.line)) return;
        await restore(ctx, alert, device, 'restoration', 'restoration');
        return;
      }
      case 'outage.removed': {
        const o = e.payload.outage;
        return voidAlert(ctx.pool, `outage/${e.deviceId}/${o.line}/${o.startMsgId}`, e.id);
      }
      case 'voltage.episode_opened':
      case 'voltage.episode_closed': {
        const v = e.payload.episode;
        const device = await loadDevice(ctx.pool, e.deviceId, null);
        if (!device) return;
        const input: RaiseInput = {
          type: 'voltage',
          conditionKey: `voltage/${e.deviceId}/${v.startMsgId}`,
          severity: severityOf('voltage'),
          device,
          line: null,
          startedAt: v.startedAt,
          clearedAt: v.endedAt,
          eventId: e.id,
          details: { voltage: v.kind ?? null },
        };
        if (e.type === 'voltage.episode_opened' && v.endedAt === null) {
          await raiseAndDebounce(ctx, input);
          return;
        }
        const alert =
          v.endedAt === null
            ? await raiseAlert(ctx.pool, input)
            : await clearAlert(ctx.pool, { ...input, clearedAt: v.endedAt });
        await restore(ctx, alert, device, 'restoration', 'voltage');
        return;
      }
      case 'voltage.episode_removed': {
        const v = e.payload.episode;
        return voidAlert(ctx.pool, `voltage/${e.deviceId}/${v.startMsgId}`, e.id);
      }
      case 'device.offline': {
        const device = await loadDevice(ctx.pool, e.deviceId, null);
        if (!device) return;
        const since = Number(e.payload.lastActivity);
        // The inactivity timeout already was the debounce: told at once (timer of 0).
        await raiseAndDebounce(ctx, offlineInput(e, device, since, null), 0);
        return;
      }
      case 'device.online': {
        const device = await loadDevice(ctx.pool, e.deviceId, null);
        if (!device) return;
        const since = Number(e.payload.offlineSince);
        const input = offlineInput(e, device, since, Number(e.payload.at));
        if (e.payload.spurious === true) return voidAlert(ctx.pool, input.conditionKey, e.id);
        const alert = await clearAlert(ctx.pool, { ...input, clearedAt: Number(e.payload.at) });
        await restore(ctx, alert, device, 'device_online', 'device_online');
        return;
      }
      default:
        // Only the queued types come here (QUEUED_EVENT_TYPES): a type added there without a
        // case above fails to compile.
        return unhandled(e);
    }
  };
}

/** Compile-time only: every queued type has a case. At run time a job of another type (queued
 *  by an earlier version, which queued every event) is done with nothing to tell, as before. */
function unhandled(_e: never): void {}

/**
 * Outages and voltage episodes started by imported history (source 'import') raise no alert
 * and text nobody, whatever ends them later: the condition was never told as it happened,
 * and an alert raised when live data merely ends it would be a stale page. A record is
 * imported when its starting report is (history-import ids): outages opened by live data
 * after the import follow the live rules.
 */
function startedByImport(e: DomainEvent<QueuedEventType>): boolean {
  if (!e.type.startsWith('outage.') && !e.type.startsWith('voltage.')) return false;
  const p = e.payload;
  const record = 'outage' in p ? p.outage : 'episode' in p ? p.episode : undefined;
  return record !== undefined && isImportedMessageId(record.startMsgId);
}

function offlineInput(e: DomainEvent, device: DeviceContext, since: number, clearedAt: number | null): RaiseInput {
  return {
    type: 'device_offline',
    conditionKey: `offline/${e.deviceId}/${since}`,
    severity: severityOf('device_offline'),
    device,
    line: null,
    startedAt: since,
    clearedAt,
    eventId: e.id,
    details: {},
  };
}

async function raiseAndDebounce(ctx: AlertsContext, input: RaiseInput, fixedDelay?: number): Promise<AlertRow> {
  const alert = await raiseAlert(ctx.pool, input);
  if (alert.cleared_at || alert.notified_at) return alert;
  const debounceMs = ctx.config.ALERT_DEBOUNCE_MS ?? input.device.debounceSec * 1000;
  const delay = fixedDelay ?? debounceDelayMs(input.startedAt, debounceMs, Date.now());
  const data: DebounceJob = { alertId: alert.id };
  // A delayed job, not an in-memory timer: it survives restarts of every process, and its id
  // makes a redelivered event schedule nothing new.
  // Lower priority than window flushes (BullMQ runs jobs without a priority first): in a storm
  // a backlog of fired debounces must not delay the texts of windows already due.
  await ctx.timers.add('debounce', data, { jobId: jobId('debounce', alert.id), delay, priority: 10 });
  return alert;
}

/** Texts the restoration once, only if the alert itself was texted (else it was momentary). */
async function restore(
  ctx: AlertsContext,
  alert: AlertRow,
  device: DeviceContext,
  kind: 'restoration' | 'device_online',
  subscription: 'restoration' | 'device_online' | 'voltage',
): Promise<void> {
  if (!alert.notified_at || alert.voided) return;
  const windows = await withTransaction(ctx.pool, async (client): Promise<WindowRef[] | undefined> => {
    if (!(await markRestorationNotified(client, alert.id))) return undefined;
    const subject = { deviceId: device.deviceId, line: alert.line, region: alert.region, customer: alert.customer };
    const critical = alert.severity === 'critical';
    const told = await fanOut(ctx, client, { alertId: alert.id, kind, subscription, subject, critical });
    // People an escalation told hear it is over too (escalation-flush.ts).
    return [...told, ...(await restoreEscalated(ctx, client, { alertId: alert.id, kind, critical, subject }))];
  });
  await ensureTimers(ctx, [alert.id], windows);
}
