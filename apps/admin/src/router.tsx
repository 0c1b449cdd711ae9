import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/** The console lives under /admin/ (the API serves it there; Vite's `base` matches). */
export const BASE = '/admin';

const listeners = new Set<() => void>();
const notify = () => {
  for (const l of listeners) l();
};
if (typeof window !== 'undefined') window.addEventListener('popstate', notify);

const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};
const snapshot = () => window.location.pathname + window.location.search;

/** Go to a console path such as `/orders?status=processing` (history push, or replace for filters). */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = BASE + (to.startsWith('/') ? to : `/${to}`);
  if (url === snapshot()) return;
  if (opts.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  notify();
  if (!opts.replace) window.scrollTo(0, 0);
}

/** The current console path (without /admin) and its query string. */
export function useLocation(): { path: string; params: URLSearchParams } {
  const current = useSyncExternalStore(subscribe, snapshot);
  const [pathname = '', search = ''] = current.split('?');
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) || '/' : pathname;
  return { path: path.length > 1 ? path.replace(/\/$/, '') : path, params: new URLSearchParams(search) };
}

/** Update some query parameters (empty values removed), replacing the history entry. */
export function setParams(path: string, params: URLSearchParams, changes: Record<string, string | null | undefined>): void {
  const next = new URLSearchParams(params);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === '') next.delete(k);
    else next.set(k, v);
  }
  const qs = next.toString();
  navigate(qs ? `${path}?${qs}` : path, { replace: true });
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string };

/** A real link (open in a new tab works) that navigates in place on a plain click. */
export function Link({ to, onClick, ...rest }: LinkProps) {
  const href = BASE + (to.startsWith('/') ? to : `/${to}`);
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={href} onClick={click} {...rest} />;
}
