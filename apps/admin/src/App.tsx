import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Spinner, ErrorBox } from './components/ui.js';
import { AccountsPage } from './pages/AccountsPage.js';
import { AttentionPage } from './pages/AttentionPage.js';
import { AuditPage } from './pages/AuditPage.js';
import { EventsPage } from './pages/EventsPage.js';
import { DeliveriesPage, DeliveryDetailPage } from './pages/DeliveriesPage.js';
import { CustomerPage } from './pages/CustomerPage.js';
import { LoginPage } from './pages/LoginPage.js';
import { OrderDetailPage } from './pages/OrderDetailPage.js';
import { OrdersPage } from './pages/OrdersPage.js';
import { OverviewPage } from './pages/OverviewPage.js';
import { RolloutPage } from './pages/RolloutPage.js';
import { SubscriptionDetailPage } from './pages/SubscriptionDetailPage.js';
import { SubscriptionsPage } from './pages/SubscriptionsPage.js';
import { can, type Me, type Role } from './lib/access.js';
import { Link, useLocation } from './router.js';
import { errorCode, handleSessionEnded, trpc } from './trpc.js';


const NAV: { to: string; label: string; role: Role }[] = [
  { to: '/', label: 'Overview', role: 'viewer' },
  { to: '/attention', label: 'Needs attention', role: 'viewer' },
  { to: '/orders', label: 'Orders', role: 'viewer' },
  { to: '/subscriptions', label: 'Subscriptions', role: 'viewer' },
  { to: '/events', label: 'Events', role: 'viewer' },
  { to: '/deliveries', label: 'Deliveries', role: 'viewer' },
  { to: '/rollout', label: 'Rollout', role: 'viewer' },
  { to: '/audit', label: 'Audit log', role: 'viewer' },
  { to: '/accounts', label: 'Accounts', role: 'owner' },
];

/** Forget everything the last session loaded, and ask the API who we are now (the login page, usually). */
function endSession(queryClient: QueryClient) {
  const meKey = JSON.stringify(trpc.auth.me.queryKey());
  queryClient.removeQueries({ predicate: (q) => JSON.stringify(q.queryKey) !== meKey });
  void queryClient.resetQueries({ queryKey: trpc.auth.me.queryKey() });
}

export function App() {
  const queryClient = useQueryClient();
  const me = useQuery({ ...trpc.auth.me.queryOptions(), staleTime: 60_000, retry: false });
  const [signedOut, setSignedOut] = useState<string | null>(null);

  useEffect(() => {
    handleSessionEnded(() => {
      if (queryClient.getQueryData(trpc.auth.me.queryKey())) {
        setSignedOut('Your session has ended. Sign in again to continue.');
        endSession(queryClient);
      }
    });
  }, [queryClient]);

  if (me.isPending) return <Spinner label="Checking your session…" />;
  if (me.isError) {
    if (errorCode(me.error) === 'UNAUTHORIZED') return <LoginPage notice={signedOut} onSignedIn={() => setSignedOut(null)} />;
    return (
      <main className="centered">
        <ErrorBox error={me.error} title="The console cannot reach the API" onRetry={() => void me.refetch()} />
      </main>
    );
  }
  return <Shell me={me.data} onSignedOut={() => setSignedOut('You are signed out.')} />;
}

function Shell({ me, onSignedOut }: { me: Me; onSignedOut: () => void }) {
  const queryClient = useQueryClient();
  const { path, params } = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const logout = useMutation(
    trpc.auth.logout.mutationOptions({
      onSettled: () => {
        onSignedOut();
        endSession(queryClient);
      },
    }),
  );

  // Move focus to the new page's heading on navigation, so keyboard and screen-reader users land on it.
  const first = useRef(true);
  useEffect(() => {
    setMenuOpen(false);
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('page-title')?.focus({ preventScroll: true });
  }, [path]);

  const section = '/' + (path.split('/')[1] ?? '');
  let page;
  const orderMatch = /^\/orders\/([^/]+)$/.exec(path);
  const subscriptionMatch = /^\/subscriptions\/([^/]+)$/.exec(path);
  const deliveryMatch = /^\/deliveries\/([^/]+)$/.exec(path);
  const customerMatch = /^\/customers\/([^/]+)$/.exec(path);
  // A page whose section needs a higher role says so, rather than "Not found": the link was shared, or the role was lowered.
  const gate = NAV.find((n) => n.to === section && n.to !== '/');
  if (gate && !can(me, gate.role)) page = <RoleRequired page={gate.label} role={gate.role} me={me} />;
  else if (path === '/') page = <OverviewPage />;
  else if (subscriptionMatch) page = <SubscriptionDetailPage subscriptionId={decodeURIComponent(subscriptionMatch[1]!)} />;
  else if (path === '/subscriptions') page = <SubscriptionsPage params={params} />;
  else if (deliveryMatch) page = <DeliveryDetailPage deliveryId={decodeURIComponent(deliveryMatch[1]!)} me={me} />;
  else if (customerMatch) page = <CustomerPage userId={decodeURIComponent(customerMatch[1]!)} />;
  else if (path === '/deliveries') page = <DeliveriesPage params={params} me={me} />;
  else if (orderMatch) page = <OrderDetailPage orderId={decodeURIComponent(orderMatch[1]!)} me={me} />;
  else if (path === '/attention') page = <AttentionPage />;
  else if (path === '/orders') page = <OrdersPage params={params} />;
  else if (path === '/events') page = <EventsPage params={params} me={me} />;
  else if (path === '/rollout') page = <RolloutPage me={me} />;
  else if (path === '/audit') page = <AuditPage params={params} />;
  else if (path === '/accounts') page = <AccountsPage me={me} />;
  else
    page = (
      <div>
        <h1 id="page-title" tabIndex={-1}>Not found</h1>
        <p>
          There is no page at <code>{path}</code>. <Link to="/">Go to the overview</Link>.
        </p>
      </div>
    );

  useEffect(() => {
    const current = NAV.find((n) => n.to === section)?.label ?? (orderMatch ? 'Order' : 'Console');
    document.title = `${current} · Settle console`;
  }, [section, orderMatch]);

  return (
    <div className="app">
      <a className="skip-link" href="#main" onClick={(e) => { e.preventDefault(); mainRef.current?.focus(); }}>
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          Settle <span className="brand-sub">console</span>
        </Link>
        <button type="button" className="btn menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen((o) => !o)}>
          Menu
        </button>
        <nav id="main-nav" aria-label="Main" className={menuOpen ? 'nav open' : 'nav'}>
          <ul>
            {NAV.filter((n) => can(me, n.role)).map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={section === n.to || (n.to === '/orders' && orderMatch) ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="whoami">
          <span className="whoami-name" title={me.actor}>{me.email ?? me.actor}</span>
          <span className={`badge badge-role`}>{me.role}</span>
          <button type="button" className="btn btn-small" onClick={() => logout.mutate()} disabled={logout.isPending}>
            {logout.isPending ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1} className="content">
        {page}
      </main>
    </div>
  );
}

/** What a signed-in admin sees on a page their role does not open: which role it needs, and theirs. */
function RoleRequired({ page, role, me }: { page: string; role: Role; me: Me }) {
  return (
    <div>
      <h1 id="page-title" tabIndex={-1}>{page}: {role} role needed</h1>
      <p>
        This page needs the <strong>{role}</strong> role; you are signed in as <strong>{me.email ?? me.actor}</strong> with the{' '}
        <strong>{me.role}</strong> role. Ask an owner to change your role. <Link to="/">Go to the overview</Link>.
      </p>
    </div>
  );
}
