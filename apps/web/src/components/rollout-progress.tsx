/** Progress of a rollout: a stacked bar of its devices by state, and the status badge. */
import type { RolloutCounts, RolloutStatus } from '../api/firmware.js';

// Colours from the page's palette (styles.css): done, failed, in flight, not started.
const SEGMENTS: { key: keyof RolloutCounts; color: string; text: string }[] = [
  { key: 'updated', color: 'var(--ok)', text: 'updated' },
  { key: 'failed', color: 'var(--down)', text: 'failed' },
  { key: 'downloading', color: 'var(--accent)', text: 'downloading' },
  { key: 'assigned', color: 'var(--unk)', text: 'assigned' },
  { key: 'skipped', color: 'var(--off)', text: 'skipped' },
  { key: 'cancelled', color: 'var(--off-bg)', text: 'cancelled' },
];

export const countsText = (c: RolloutCounts) =>
  (['pending', ...SEGMENTS.map((s) => s.key)] as (keyof RolloutCounts)[])
    .filter((k) => c[k])
    .map((k) => `${c[k]} ${k}`)
    .join(' · ') || 'no devices';

/** One bar, as wide as its container; pending devices are the empty rest. */
export function ProgressBar({ counts, total, testId }: { counts: RolloutCounts; total: number; testId?: string }) {
  return (
    <div
      data-testid={testId}
      title={countsText(counts)}
      style={{
        display: 'flex',
        height: '14px',
        minWidth: '8rem',
        border: '1px solid var(--line)',
        borderRadius: '3px',
        overflow: 'hidden',
      }}
    >
      {total > 0 &&
        SEGMENTS.map((s) =>
          counts[s.key] ? (
            <span key={s.key} style={{ width: `${(counts[s.key] / total) * 100}%`, background: s.color }} />
          ) : null,
        )}
    </div>
  );
}

const STATUS: Record<RolloutStatus, string> = {
  running: 'ok',
  paused: 'down',
  completed: 'unknown',
  cancelled: 'offline',
};
export function StatusBadge({ status }: { status: RolloutStatus }) {
  return (
    <span class={`badge ${STATUS[status]}`} data-testid="rollout-status">
      {status}
    </span>
  );
}
