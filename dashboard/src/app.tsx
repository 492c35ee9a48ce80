import { useEffect, useState } from 'preact/hooks';
import { adminKey, forgetAdminKey, onUnauthorized } from './api.ts';
import { ChargePage } from './pages/charge.tsx';
import { Charges } from './pages/charges.tsx';
import { Jobs } from './pages/jobs.tsx';
import { Overview } from './pages/overview.tsx';
import { Refunds } from './pages/refunds.tsx';
import { Reviews } from './pages/reviews.tsx';
import { SignIn } from './pages/sign-in.tsx';
import { Webhooks } from './pages/webhooks.tsx';
import { useRoute, type Route } from './route.ts';

const NAV: { href: string; label: string; pages: Route['page'][] }[] = [
  { href: '#/overview', label: 'Overview', pages: ['overview'] },
  { href: '#/charges', label: 'Charges', pages: ['charges', 'charge'] },
  { href: '#/refunds', label: 'Refunds', pages: ['refunds'] },
  { href: '#/reviews', label: 'Reviews', pages: ['reviews'] },
  { href: '#/jobs', label: 'Dead jobs', pages: ['jobs'] },
  { href: '#/webhooks', label: 'Webhooks', pages: ['webhooks'] },
];

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'charges':
      return <Charges />;
    case 'charge':
      return <ChargePage key={route.id} id={route.id} />;
    case 'refunds':
      return <Refunds />;
    case 'jobs':
      return <Jobs />;
    case 'reviews':
      return <Reviews />;
    case 'webhooks':
      return <Webhooks />;
    default:
      return <Overview />;
  }
}

export function App() {
  const [signedIn, setSignedIn] = useState(() => adminKey() !== null);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [menuOpen, setMenuOpen] = useState(false);
  const route = useRoute();

  useEffect(
    () =>
      onUnauthorized(() => {
        forgetAdminKey();
        setNotice('The admin key is no longer accepted (401). Sign in again.');
        setSignedIn(false);
      }),
    [],
  );
  useEffect(() => setMenuOpen(false), [route]);

  if (!signedIn) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={() => {
          setNotice(undefined);
          setSignedIn(true);
        }}
      />
    );
  }

  const signOut = () => {
    forgetAdminKey();
    setNotice('Signed out.');
    setSignedIn(false);
  };

  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/overview">
          FinCore <span>operator</span>
        </a>
        <button type="button" class="menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen(!menuOpen)}>
          ☰ Menu
        </button>
        <nav id="main-nav" class={menuOpen ? 'open' : ''} aria-label="Main">
          {NAV.map((item) => (
            <a key={item.href} href={item.href} class={item.pages.includes(route.page) ? 'active' : ''} aria-current={item.pages.includes(route.page) ? 'page' : undefined}>
              {item.label}
            </a>
          ))}
          <button type="button" class="secondary sign-out" onClick={signOut}>
            Sign out
          </button>
        </nav>
      </header>
      <main>
        <Page route={route} />
      </main>
    </div>
  );
}
