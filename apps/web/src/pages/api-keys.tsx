/** API keys (admins only): create (the key is shown once), list, revoke. */
import { useState } from 'preact/hooks';
import { type ApiKeyRow, apiKeys, createApiKey, revokeApiKey } from '../api/client.js';
import { toMs } from '../api/normalize.js';
import { AdminTable, Notice } from '../components/admin-table.js';
import { FormButtons } from '../components/form-fields.js';
import { fmtScope, RoleSelect, ScopeFields, scopeOf } from '../components/scope-fields.js';
import { submitted, useAdmin, useList } from '../components/use-resource.js';
import { fmtTime } from '../format.js';

export function ApiKeysPage() {
  const state = useAdmin();
  const { msg, setMsg, refresh } = state;
  const rows = useList(state, apiKeys);
  const [issued, setIssued] = useState<{ name: string; key: string } | null>(null);
  const [copied, setCopied] = useState(false);

  async function create(e: Event) {
    const { el, f } = submitted(e);
    try {
      const k = await createApiKey({ name: String(f.get('name')), role: String(f.get('role')), ...scopeOf(f) });
      setIssued({ name: k.name, key: k.key });
      setCopied(false);
      setMsg(null);
      el.reset();
      refresh();
    } catch (err) {
      setMsg(`Not created: ${(err as Error).message}`);
    }
  }

  const revoke = (k: ApiKeyRow) =>
    state.remove(
      `Revoke API key "${k.name}"? Scripts using it stop working at once.`,
      () => revokeApiKey(k.id),
      `Revoked "${k.name}".`,
      { failed: 'Not revoked' },
    );

  async function copy() {
    if (!issued) return;
    try {
      await navigator.clipboard.writeText(issued.key);
      setCopied(true);
    } catch {
      // No clipboard (plain http, old browser): select the text for a manual copy.
      const el = document.getElementById('issued-key');
      if (el) getSelection()?.selectAllChildren(el);
    }
  }

  return (
    <div>
      <h1>API keys</h1>
      {issued && (
        <div class="notice" role="alert" data-testid="issued-key">
          <b>Key “{issued.name}” — copy it now: you will not see it again.</b>
          <pre id="issued-key">{issued.key}</pre>
          <div class="toolbar">
            <button type="button" onClick={copy}>
              {copied ? '✓ Copied' : 'Copy key'}
            </button>
            <button type="button" class="ghost" onClick={() => setIssued(null)}>
              I have saved it
            </button>
          </div>
        </div>
      )}
      <Notice msg={msg} />
      <section class="card" aria-label="API keys list">
        <AdminTable testId="api-keys-table" cols={['Name', 'Role', 'Owner', 'Scope', 'Created / last used', 'State']}>
          {rows.map((k) => (
            <tr key={k.id} data-key={k.name}>
              <td>
                <b>{k.name}</b>
              </td>
              <td>{k.role}</td>
              <td>{k.username ?? '—'}</td>
              <td class="small">{fmtScope(k)}</td>
              <td class="small">
                {fmtTime(toMs(k.createdAt))}
                <br />
                {k.lastUsedAt ? fmtTime(toMs(k.lastUsedAt)) : 'never used'}
              </td>
              <td>
                {k.revokedAt ? (
                  <span class="badge offline">✕ revoked {fmtTime(toMs(k.revokedAt))}</span>
                ) : (
                  <button type="button" class="small danger" onClick={() => revoke(k)}>
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </AdminTable>
      </section>
      <section class="card" aria-label="New API key">
        <h2>New API key</h2>
        <form class="admin-form" onSubmit={create} data-testid="api-key-create-form">
          <label>
            Key name
            <input name="name" required maxLength={100} />
          </label>
          <RoleSelect />
          <ScopeFields />
          <FormButtons submit="Create key" toolbar={false} />
        </form>
      </section>
    </div>
  );
}
