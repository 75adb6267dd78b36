/**
 * The device page's claim form (operators and admins, as the API allows; only while the
 * device has no customer: the API refuses to claim one that has): the secret the device sent
 * with its claim request, and the customer to assign it to unless the user's scope names
 * exactly one (the API then uses it). A refusal shows the API's message.
 */
import { useEffect, useState } from 'preact/hooks';
import { canEdit, device, getSession } from '../api/client.js';
import { claimDevice } from '../api/profiles.js';
import { FormButtons } from './form-fields.js';
import { submitted } from './use-resource.js';

export function DeviceClaim({ id, refreshKey, onClaimed }: { id: string; refreshKey: number; onClaimed: () => void }) {
  const edit = canEdit();
  const [customer, setCustomer] = useState<string | null | undefined>(undefined);
  // Claimed by name: the API's refusal then names the device as the operator knows it.
  const [name, setName] = useState(id);
  const [msg, setMsg] = useState<string | null>(null);
  useEffect(() => setMsg(null), [id]);
  useEffect(() => {
    if (edit)
      device(id).then(
        (d) => {
          setCustomer(d.customer);
          setName(d.name);
        },
        () => setCustomer(undefined),
      );
  }, [id, refreshKey, edit]);
  // Viewers cannot claim; a device with a customer cannot be claimed (after a claim, the result stays).
  if (!edit || customer === undefined || (customer !== null && !msg)) return null;

  const mine = getSession()?.user.scope?.customers ?? null;
  const submit = async (e: Event) => {
    const { el, f } = submitted(e);
    const chosen = String(f.get('customer') ?? '').trim();
    try {
      const d = await claimDevice(name, {
        secretKey: String(f.get('secretKey') ?? ''),
        ...(chosen ? { customer: chosen } : {}),
      });
      el.reset();
      setCustomer(d.customer);
      setMsg(`Claimed: ${d.name} is assigned to customer ${d.customer}.`);
      onClaimed();
    } catch (err) {
      setMsg(`Not claimed: ${(err as Error).message}`);
    }
  };
  return (
    <section class="card" aria-label="Claim" data-testid="device-claim">
      <h2>Claim with secret</h2>
      {customer === null && (
        <form class="admin-form" onSubmit={submit} data-testid="claim-form">
          <label>
            Claim secret
            <input name="secretKey" type="password" required maxLength={256} autocomplete="off" />
          </label>
          {mine?.length === 1 ? (
            <p class="small muted">Assigned to your customer {mine[0]}.</p>
          ) : mine ? (
            <label>
              Customer
              <select name="customer" required>
                {mine.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <label>
              Customer
              <input name="customer" required maxLength={128} />
            </label>
          )}
          <p class="wide small muted">
            The secret the device sent with its claim request (v1/devices/me/claim); the device is assigned to the
            customer and the claim is used up.
          </p>
          <FormButtons submit="Claim device" />
        </form>
      )}
      {msg && (
        <p class="small" role="status" data-testid="claim-msg">
          {msg}
        </p>
      )}
    </section>
  );
}
