/** API keys (admins only): create (the key is shown once), list, revoke. */
import { useEffect, useState } from 'preact/hooks';
import { type ApiKeyRow, apiKeys, createApiKey, revokeApiKey } from '../api/client.js';
import { toMs } from '../api/normalize.js';
import { fmtScope, RoleSelect, ScopeFields, scopeOf } from '../components/scope-fields.js';
import { fmtTime } from '../format.js';

export function ApiKeysPage() {
  const [rows, setRows] = useState<ApiKeyRow[]>([]);
  const [msg, setMsg] = useState<string | null>(null);
  const [issued, setIssued] = useState<{ name: string; key: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    apiKeys().then(setRows, (err: Error) => setMsg(err.message));
  }, [reload]);

  async function create(e: Event) {
    e.preventDefault();
    const el = e.currentTarget as HTMLFormElement;
    const f = new FormData(el);
    try {
      const k = await createApiKey({ name: String(f.get('name')), role: String(f.get('role')), ...scopeOf(f) });
      setIssued({ name: k.name, key: k.key });
      setCopied(false);
      setMsg(null);
      el.reset();
      setReload((n) => n + 1);
    } catch (err) {
      setMsg(`Not created: ${(err as Error).message}`);
    }
  }

  async function revoke(k: ApiKeyRow) {
    if (!confirm(`Revoke API key "${k.name}"? Scripts using it stop working at once.`)) return;
    try {
      await revokeApiKey(k.id);
      setMsg(`Revoked "${k.name}".`);
      setReload((n) => n + 1);
    } catch (err) {
      setMsg(`Not revoked: ${(err as Error).message}`);
    }
  }

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
      {msg && (
        <p class="notice" role="status">
          {msg}
        </p>
      )}
      <section class="card" aria-label="API keys list">
        <div class="table-wrap">
          <table data-testid="api-keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                <th>Owner</th>
                <th>Scope</th>
                <th>Created / last used</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
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
          <div class="wide">
            <button type="submit">Create key</button>
          </div>
        </form>
      </section>
    </div>
  );
}
