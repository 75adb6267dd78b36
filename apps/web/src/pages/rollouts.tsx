/**
 * Staged firmware rollouts: the list with status and progress (everyone; refreshed every few
 * seconds while one is running or paused) and the form that starts one (operators and
 * admins; the API narrows it to their scope or refuses with 403). A rollout's page is
 * pages/rollout-detail.tsx.
 */
import { useEffect } from 'preact/hooks';
import { canEdit } from '../api/client.js';
import { firmwareList, POLL_MS, rollouts, unfinished } from '../api/firmware.js';
import { AdminTable, Notice } from '../components/admin-table.js';
import { RolloutForm } from '../components/rollout-form.js';
import { countsText, ProgressBar, StatusBadge } from '../components/rollout-progress.js';
import { useAdmin, useList } from '../components/use-resource.js';
import { fmtTime } from '../format.js';
import { navigate } from '../router.js';

export function RolloutsPage() {
  const operator = canEdit();
  const state = useAdmin();
  const { msg, reload, done, refresh } = state;
  const rows = useList(state, rollouts);
  const firmware = useList(state, firmwareList, operator);
  const live = rows.some((r) => unfinished(r.status));
  useEffect(() => {
    if (!live) return;
    const t = setTimeout(refresh, POLL_MS);
    return () => clearTimeout(t);
  }, [live, reload]);

  return (
    <div>
      <h1>Rollouts</h1>
      <p class="muted">
        A rollout assigns a firmware image to devices in waves (e.g. 1 %, 10 %, 100 % of its scope), at most a set
        number downloading at once, and pauses itself when a wave fails more often than its threshold. Images are on the{' '}
        <a href="/firmware">Firmware</a> page.
      </p>
      <Notice msg={msg} testId="rollouts-msg" />
      <section class="card" aria-label="Rollouts list">
        <AdminTable testId="rollouts-table" cols={['Firmware', 'Status', 'Wave', 'Progress', 'Devices', 'Started']}>
          {rows.map((r) => (
            <tr key={r.id} data-rollout={r.id}>
              <td>
                <a href={`/rollouts/${r.id}`}>
                  <b>
                    {r.firmware.title} {r.firmware.version}
                  </b>
                </a>
              </td>
              <td>
                <StatusBadge status={r.status} />
                {r.statusReason && <div class="small muted">{r.statusReason}</div>}
              </td>
              <td class="small">
                {r.currentWave} of {r.waveCount} ({r.waves.join(', ')} %)
              </td>
              <td>
                <ProgressBar counts={r.counts} total={r.devices} />
                <div class="small muted">{countsText(r.counts)}</div>
              </td>
              <td class="num">{r.devices}</td>
              <td class="small">
                {fmtTime(Date.parse(r.createdAt))}
                {r.createdBy && <div class="muted">by {r.createdBy}</div>}
              </td>
            </tr>
          ))}
        </AdminTable>
        {!rows.length && <p class="muted">No rollouts.</p>}
      </section>
      {operator ? (
        <section class="card" aria-label="New rollout">
          <h2>New rollout</h2>
          <RolloutForm
            key={`new-${reload}`}
            firmware={firmware}
            onCreated={(m, id) => {
              done(m);
              if (id) navigate(`/rollouts/${id}`);
            }}
          />
        </section>
      ) : (
        <p class="muted" data-testid="rollouts-readonly">
          Read only: operators and admins start, pause and cancel rollouts.
        </p>
      )}
    </div>
  );
}
