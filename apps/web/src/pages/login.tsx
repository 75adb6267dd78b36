/** Sign-in: username/password (sessions) or an API key (kiosks, wall screens, scripts). */
import { useState } from 'preact/hooks';
import { login, loginWithKey, NotAvailable, setSession } from '../api/client.js';

export function LoginPage() {
  const [mode, setMode] = useState<'password' | 'key'>('password');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      const s =
        mode === 'key'
          ? await loginWithKey(String(form.get('key')))
          : await login(String(form.get('username')), String(form.get('password')));
      setSession(s);
    } catch (err) {
      if (err instanceof NotAvailable) {
        setError('This server has no user sign-in yet: use an API key.');
        setMode('key');
      } else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login">
      <form class="card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">SPMS sign in</h1>
        <p class="muted">Power-line monitoring</p>
        {mode === 'password' ? (
          <>
            <label>
              Username
              <input name="username" autoComplete="username" required />
            </label>
            <label>
              Password
              <input name="password" type="password" autoComplete="current-password" required />
            </label>
          </>
        ) : (
          <label>
            API key
            <input name="key" type="password" autoComplete="off" required />
          </label>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <button type="button" class="ghost" onClick={() => setMode(mode === 'key' ? 'password' : 'key')}>
          {mode === 'key' ? 'Use username and password' : 'Use an API key'}
        </button>
      </form>
    </main>
  );
}
