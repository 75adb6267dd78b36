/** Shell: sign-in gate, navigation, the live-link indicator, and the page router. */
import type { FunctionComponent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { canEdit, getSession, isAdmin, logout, onSession } from './api/client.js';
import { SystemBanners } from './components/system-banners.js';
import { connect, disconnect, useFleet } from './live.js';
import { AlertsPage } from './pages/alerts.js';
import { FleetPage } from './pages/fleet.js';
import { LoginPage } from './pages/login.js';
import { OutagesPage } from './pages/outages.js';
import { useLocation } from './router.js';

const NAV = [
  ['/', 'Fleet'],
  ['/outages', 'Outages'],
  ['/alerts', 'Alerts'],
  ['/reports', 'Reports'],
  ['/recipients', 'Recipients'],
  ['/report-subscriptions', 'Report e-mails'],
  ['/dead-letters', 'Dead letters'],
  ['/firmware', 'Firmware'],
  ['/rollouts', 'Rollouts'],
  ['/profiles', 'Profiles'],
] as const;
// Operators and admins (viewers have no access to it).
const OPERATOR_NAV = [['/escalation', 'Escalation']] as const;
// Admin pages: hidden from the others (the API refuses them anyway).
const ADMIN_NAV = [
  ['/users', 'Users'],
  ['/api-keys', 'API keys'],
] as const;

// The device page (uPlot) and reports load on first use: the fleet view opens with less code.
const loaders = {
  device: () => import('./pages/device.js').then((m) => m.DevicePage as FunctionComponent<{ id: string }>),
  reports: () => import('./pages/reports.js').then((m) => m.ReportsPage as FunctionComponent<{ id: string }>),
  recipients: () => import('./pages/recipients.js').then((m) => m.RecipientsPage as FunctionComponent<{ id: string }>),
  reportSubscriptions: () =>
    import('./pages/report-subscriptions.js').then(
      (m) => m.ReportSubscriptionsPage as FunctionComponent<{ id: string }>,
    ),
  escalation: () => import('./pages/escalation.js').then((m) => m.EscalationPage as FunctionComponent<{ id: string }>),
  users: () => import('./pages/users.js').then((m) => m.UsersPage as FunctionComponent<{ id: string }>),
  apiKeys: () => import('./pages/api-keys.js').then((m) => m.ApiKeysPage as FunctionComponent<{ id: string }>),
  deadLetters: () =>
    import('./pages/dead-letters.js').then((m) => m.DeadLettersPage as FunctionComponent<{ id: string }>),
  firmware: () => import('./pages/firmware.js').then((m) => m.FirmwarePage as FunctionComponent<{ id: string }>),
  rollouts: () => import('./pages/rollouts.js').then((m) => m.RolloutsPage as FunctionComponent<{ id: string }>),
  profiles: () => import('./pages/profiles.js').then((m) => m.ProfilesPage as FunctionComponent<{ id: string }>),
  rollout: () =>
    import('./pages/rollout-detail.js').then((m) => m.RolloutDetailPage as FunctionComponent<{ id: string }>),
};
const loaded: Partial<Record<keyof typeof loaders, FunctionComponent<{ id: string }>>> = {};

function Lazy({ page, id }: { page: keyof typeof loaders; id: string }) {
  const [Page, setPage] = useState(() => loaded[page]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (loaded[page]) return setPage(() => loaded[page]);
    loaders[page]().then(
      (p) => {
        loaded[page] = p;
        setPage(() => p);
      },
      (err: Error) => setError(err.message),
    );
  }, [page]);
  if (error) return <p class="error">Could not load the page: {error}</p>;
  return Page ? <Page id={id} /> : <p class="muted">Loading…</p>;
}

const LINK_TEXT = { connecting: 'Connecting…', live: '● Live', polling: '↻ Polling', offline: '⚠ Reconnecting' };

export function App() {
  const [session, setS] = useState(getSession());
  useEffect(() => onSession(() => setS(getSession())), []);
  useEffect(() => {
    if (session) connect();
    else disconnect();
    return disconnect;
  }, [session?.token]);
  if (!session) return <LoginPage />;
  return <Shell />;
}

function Shell() {
  const { path } = useLocation();
  const { link } = useFleet();
  const session = getSession();
  const device = /^\/devices\/([^/]+)$/.exec(path);
  const rollout = /^\/rollouts\/([^/]+)$/.exec(path);
  let page = <FleetPage />;
  if (device?.[1]) page = <Lazy page="device" id={decodeURIComponent(device[1])} />;
  else if (path === '/outages') page = <OutagesPage />;
  else if (path === '/alerts') page = <AlertsPage />;
  else if (path === '/reports') page = <Lazy page="reports" id="" />;
  else if (path === '/recipients') page = <Lazy page="recipients" id="" />;
  else if (path === '/report-subscriptions') page = <Lazy page="reportSubscriptions" id="" />;
  else if (path === '/escalation' && canEdit()) page = <Lazy page="escalation" id="" />;
  else if (path === '/dead-letters') page = <Lazy page="deadLetters" id="" />;
  else if (path === '/firmware') page = <Lazy page="firmware" id="" />;
  else if (path === '/rollouts') page = <Lazy page="rollouts" id="" />;
  else if (path === '/profiles') page = <Lazy page="profiles" id="" />;
  else if (rollout?.[1]) page = <Lazy page="rollout" id={decodeURIComponent(rollout[1])} />;
  else if (path === '/users' && isAdmin()) page = <Lazy page="users" id="" />;
  else if (path === '/api-keys' && isAdmin()) page = <Lazy page="apiKeys" id="" />;
  return (
    <>
      <header class="top">
        <a class="brand" href="/">
          SPMS
        </a>
        <nav>
          {[...NAV, ...(canEdit() ? OPERATOR_NAV : []), ...(isAdmin() ? ADMIN_NAV : [])].map(([href, text]) => (
            <a
              key={href}
              href={href}
              class={path === href || (href === '/' && device) || (href === '/rollouts' && rollout) ? 'active' : ''}
              aria-current={path === href ? 'page' : undefined}
            >
              {text}
            </a>
          ))}
        </nav>
        <span class={`link link-${link}`} data-testid="link-state" title="Live update stream">
          {LINK_TEXT[link]}
        </span>
        <span class="user" data-testid="user">
          {session?.user.username} · {session?.user.role}
          {session?.user.scope?.regions ? ` · ${session.user.scope.regions.join(', ')}` : ''}
          {session?.user.scope?.customers ? ` · ${session.user.scope.customers.join(', ')}` : ''}
        </span>
        <button type="button" class="ghost" onClick={() => void logout()}>
          Sign out
        </button>
      </header>
      <main>
        {canEdit() && <SystemBanners />}
        {page}
      </main>
    </>
  );
}
