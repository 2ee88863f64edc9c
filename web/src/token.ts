/**
 * Where the page keeps its bearer token: localStorage (`tps.token`), so a reload stays signed in. A
 * link `/#token=<token>` (printed by scripts/start.sh) signs in and removes the token from the address bar.
 */
const KEY = 'tps.token';

/** The stored token, after taking one from the address's `#token=` if present; null when signed out. */
export function loadToken(): string | null {
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (fromHash) {
    saveToken(fromHash);
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return window.localStorage.getItem(KEY);
}

/** Stores `token` (null: signs out). */
export function saveToken(token: string | null): void {
  if (token) window.localStorage.setItem(KEY, token);
  else window.localStorage.removeItem(KEY);
}
