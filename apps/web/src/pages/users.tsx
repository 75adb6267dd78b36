/** Users (admins only): create, role and scope, disable/enable, password reset, delete. */
import { useEffect, useState } from 'preact/hooks';
import { createUser, deleteUser, resetPassword, type UserRow, updateUser, users } from '../api/client.js';
import { toMs } from '../api/normalize.js';
import { fmtScope, RoleSelect, ScopeFields, scopeOf } from '../components/scope-fields.js';
import { fmtTime } from '../format.js';

const form = (e: Event) => {
  e.preventDefault();
  return new FormData(e.currentTarget as HTMLFormElement);
};

export function UsersPage() {
  const [rows, setRows] = useState<UserRow[]>([]);
  const [msg, setMsg] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    users().then(setRows, (err: Error) => setMsg(err.message));
  }, [reload]);

  // Every action reports the API's own message inline (e.g. "username already taken").
  const act = async (what: string, fn: () => Promise<unknown>, done?: () => void) => {
    try {
      await fn();
      setMsg(`${what}: done.`);
      done?.();
      setReload((n) => n + 1);
    } catch (err) {
      setMsg(`${what} failed: ${(err as Error).message}`);
    }
  };

  const create = (e: Event) => {
    const f = form(e);
    const el = e.currentTarget as HTMLFormElement;
    void act(
      `Create user ${String(f.get('username'))}`,
      () =>
        createUser({
          username: String(f.get('username')),
          email: String(f.get('email') ?? '') || null,
          password: String(f.get('password')),
          role: String(f.get('role')),
          ...scopeOf(f),
        }),
      () => el.reset(),
    );
  };

  const save = (u: UserRow) => (e: Event) => {
    const f = form(e);
    void act(
      `Update ${u.username}`,
      () => updateUser(u.id, { role: String(f.get('role')), ...scopeOf(f) }),
      () => setEditing(null),
    );
  };

  const reset = (u: UserRow) => {
    const password = prompt(`New password for ${u.username} (at least 10 characters). Their sessions end.`);
    if (password) void act(`Reset password of ${u.username}`, () => resetPassword(u.id, password));
  };

  return (
    <div>
      <h1>Users</h1>
      {msg && (
        <p class="notice" role="status" data-testid="users-msg">
          {msg}
        </p>
      )}
      <section class="card" aria-label="Users list">
        <div class="table-wrap">
          <table data-testid="users-table">
            <thead>
              <tr>
                <th>User</th>
                <th>Role</th>
                <th>Scope</th>
                <th>State</th>
                <th>Last sign-in</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((u) => (
                <tr key={u.id} data-user={u.username}>
                  <td>
                    <b>{u.username}</b>
                    {u.email && <div class="small">{u.email}</div>}
                  </td>
                  <td>{u.role}</td>
                  <td class="small">{fmtScope(u)}</td>
                  <td>
                    <span class={`badge ${u.disabled ? 'offline' : 'ok'}`}>
                      {u.disabled ? '✕ disabled' : '● enabled'}
                    </span>
                  </td>
                  <td class="small">{fmtTime(toMs(u.lastLoginAt))}</td>
                  <td>
                    {editing === u.id ? (
                      <form class="admin-form" onSubmit={save(u)} aria-label={`Edit ${u.username}`}>
                        <RoleSelect value={u.role} />
                        <ScopeFields value={u} />
                        <div class="toolbar">
                          <button type="submit">Save</button>
                          <button type="button" class="ghost" onClick={() => setEditing(null)}>
                            Cancel
                          </button>
                        </div>
                      </form>
                    ) : (
                      <div class="toolbar">
                        <button type="button" class="small" onClick={() => setEditing(u.id)}>
                          Role / scope
                        </button>
                        <button
                          type="button"
                          class="small"
                          onClick={() =>
                            act(`${u.disabled ? 'Enable' : 'Disable'} ${u.username}`, () =>
                              updateUser(u.id, { disabled: !u.disabled }),
                            )
                          }
                        >
                          {u.disabled ? 'Enable' : 'Disable'}
                        </button>
                        <button type="button" class="small" onClick={() => reset(u)}>
                          Reset password
                        </button>
                        <button
                          type="button"
                          class="small danger"
                          onClick={() =>
                            confirm(`Delete user ${u.username}?`) && act(`Delete ${u.username}`, () => deleteUser(u.id))
                          }
                        >
                          Delete
                        </button>
                      </div>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section class="card" aria-label="New user">
        <h2>New user</h2>
        <form class="admin-form" onSubmit={create} data-testid="user-create-form">
          <label>
            Username
            <input name="username" required maxLength={100} pattern="[A-Za-z0-9._@\-]+" autoComplete="off" />
          </label>
          <label>
            Email (optional)
            <input name="email" type="email" maxLength={254} />
          </label>
          <label>
            Password (at least 10 characters)
            <input
              name="password"
              type="password"
              required
              minLength={10}
              maxLength={256}
              autoComplete="new-password"
            />
          </label>
          <RoleSelect />
          <ScopeFields />
          <div class="wide">
            <button type="submit">Create user</button>
          </div>
        </form>
      </section>
    </div>
  );
}
