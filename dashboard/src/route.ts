// Hash routes (#/charges, #/charges/ch_...): the server only ever serves index.html, and no
// filter or secret ends up in a request path.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'overview' }
  | { page: 'charges' }
  | { page: 'charge'; id: string }
  | { page: 'refunds' }
  | { page: 'jobs' }
  | { page: 'reviews' }
  | { page: 'webhooks' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second] = parts;
  if (first === 'charges' && second) return { page: 'charge', id: second };
  if (first === 'charges' || first === 'refunds' || first === 'jobs' || first === 'webhooks' || first === 'reviews') return { page: first };
  return { page: 'overview' };
}

export function chargeHref(id: string): string {
  return `#/charges/${encodeURIComponent(id)}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
