/**
 * The form that starts a rollout (pages/rollouts.tsx) or rolls one back (rollout detail:
 * `rollbackOf` set, no scope: the API takes the devices the earlier rollout assigned).
 * The API checks everything again; its 400/403/404/409 messages are shown as they are.
 */
import { createRollout, type FirmwareRow, type NewRollout } from '../api/firmware.js';
import { FormButtons } from './form-fields.js';
import { submitted } from './use-resource.js';

/** "1, 10, 100" → [1, 10, 100]; null when not a list of whole numbers. */
export function parseWaves(s: string): number[] | null {
  const parts = s.split(/[\s,;%]+/).filter(Boolean);
  if (!parts.length || parts.some((p) => !/^\d+$/.test(p))) return null;
  return parts.map(Number);
}

const names = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

function bodyOf(f: FormData, rollbackOf: string | undefined): NewRollout | string {
  const waves = parseWaves(String(f.get('waves') ?? ''));
  if (!waves) return 'waves are whole percentages separated by commas, e.g. 1, 10, 100';
  const threshold = Number(f.get('failureThreshold'));
  const timeout = String(f.get('successTimeoutSec') ?? '').trim();
  const body: NewRollout = {
    firmwareId: String(f.get('firmwareId')),
    waves,
    maxConcurrent: Number(f.get('maxConcurrent')),
    failureThreshold: threshold / 100,
    ...(timeout ? { successTimeoutSec: Number(timeout) } : {}),
  };
  if (rollbackOf) return { ...body, rollbackOf };
  const scope: NonNullable<NewRollout['scope']> = {};
  for (const k of ['region', 'customer', 'profile'] as const) {
    const v = String(f.get(k) ?? '').trim();
    if (v) scope[k] = v;
  }
  const devices = names(String(f.get('devices') ?? ''));
  if (devices.length) scope.devices = devices;
  return { ...body, scope };
}

export function RolloutForm({
  firmware,
  rollbackOf,
  defaultFirmware,
  onCreated,
  onCancel,
}: {
  firmware: FirmwareRow[];
  rollbackOf?: string;
  defaultFirmware?: string;
  onCreated: (m: string, id?: string) => void;
  onCancel?: () => void;
}) {
  const submit = async (e: Event) => {
    const { f } = submitted(e);
    const body = bodyOf(f, rollbackOf);
    if (typeof body === 'string') return onCreated(`Not started: ${body}.`);
    try {
      const r = await createRollout(body);
      onCreated(
        `Started rollout of ${r.firmware.title} ${r.firmware.version} over ${r.devices} device${r.devices === 1 ? '' : 's'} in ${r.waveCount} wave${r.waveCount === 1 ? '' : 's'}.`,
        r.id,
      );
    } catch (err) {
      onCreated(`Not started: ${(err as Error).message}`);
    }
  };
  return (
    <form class="admin-form" onSubmit={submit} data-testid={rollbackOf ? 'rollback-form' : 'rollout-form'}>
      <label>
        Firmware
        {/* `selected` on the options: a select's defaultValue is set before its options exist. */}
        <select name="firmwareId" required>
          <option value="" disabled selected={!defaultFirmware}>
            Choose…
          </option>
          {firmware.map((fw) => (
            <option key={fw.id} value={fw.id} selected={fw.id === defaultFirmware}>
              {fw.title} {fw.version}
            </option>
          ))}
        </select>
      </label>
      {!rollbackOf && (
        <>
          <label>
            Region
            <input name="region" maxLength={200} placeholder="any" />
          </label>
          <label>
            Customer
            <input name="customer" maxLength={200} placeholder="any" />
          </label>
          <label>
            Profile
            <input name="profile" maxLength={200} placeholder="any" />
          </label>
          <label class="wide">
            Devices (names or ids, separated by commas or spaces; empty: every device matching the above)
            <textarea name="devices" rows={2} />
          </label>
        </>
      )}
      <label>
        Waves (cumulative %)
        <input name="waves" required defaultValue={rollbackOf ? '100' : '1, 10, 100'} />
      </label>
      <label>
        Max concurrent downloads
        <input name="maxConcurrent" type="number" min={1} max={100000} required defaultValue="10" />
      </label>
      <label>
        Pause above failure rate (%)
        <input name="failureThreshold" type="number" min={0} max={100} step="any" required defaultValue="20" />
      </label>
      <label>
        Success timeout (s)
        <input name="successTimeoutSec" type="number" min={10} max={2592000} placeholder="3 inactivity timeouts" />
      </label>
      <FormButtons submit={rollbackOf ? 'Roll back' : 'Start rollout'} onCancel={onCancel} />
    </form>
  );
}
