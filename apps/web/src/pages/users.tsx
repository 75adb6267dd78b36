/** Users (admins only): create, role and scope, disable/enable, password reset, delete. */
import { createUser, deleteUser, resetPassword, type UserRow, updateUser, users } from '../api/client.js';
import { toMs } from '../api/normalize.js';
import { AdminTable, Notice, StateBadge } from '../components/admin-table.js';
import { FormButtons } from '../components/form-fields.js';
import { fmtScope, RoleSelect, ScopeFields, scopeOf } from '../components/scope-fields.js';
import { submitted, useAdmin, useList } from '../components/use-resource.js';
import { fmtTime } from '../format.js';

export function UsersPage() {
  const state = useAdmin();
  const { msg, setMsg, editing, setEditing, refresh } = state;
  const rows = useList(state, users);

  // Every action reports the API's own message inline (e.g. "username already taken").
  const act = async (what: string, fn: () => Promise<unknown>, done?: () => void) => {
    try {
      await fn();
      setMsg(`${what}: done.`);
      done?.();
      refresh();
    } catch (err) {
      setMsg(`${what} failed: ${(err as Error).message}`);
    }
  };

  const create = (e: Event) => {
    const { el, f } = submitted(e);
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
    const { f } = submitted(e);
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
      <Notice msg={msg} testId="users-msg" />
      <section class="card" aria-label="Users list">
        <AdminTable testId="users-table" cols={['User', 'Role', 'Scope', 'State', 'Last sign-in']} tools>
          {rows.map((u) => (
            <tr key={u.id} data-user={u.username}>
              <td>
                <b>{u.username}</b>
                {u.email && <div class="small">{u.email}</div>}
              </td>
              <td>{u.role}</td>
              <td class="small">{fmtScope(u)}</td>
              <td>
                <StateBadge on={!u.disabled} onText="● enabled" offText="✕ disabled" offClass="offline" />
              </td>
              <td class="small">{fmtTime(toMs(u.lastLoginAt))}</td>
              <td>
                {editing === u.id ? (
                  <form class="admin-form" onSubmit={save(u)} aria-label={`Edit ${u.username}`}>
                    <RoleSelect value={u.role} />
                    <ScopeFields value={u} />
                    <FormButtons submit="Save" onCancel={() => setEditing(null)} bare />
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
        </AdminTable>
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
          <FormButtons submit="Create user" toolbar={false} />
        </form>
      </section>
    </div>
  );
}
