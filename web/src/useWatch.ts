/** React side of the typed client's live views: re-renders on every change of a {@link Watch}. */
import { useEffect, useRef, useState } from 'react';
import type { SubscribeError, Watch } from '../../client';

/**
 * Opens the watch `open()` returns whenever `key` changes (and closes the previous one); answers its
 * current view and last subscribe error, or `initial` before the first.
 */
export function useWatch<V>(key: string, open: () => Watch<V>, initial: V): { view: V; error: SubscribeError | null } {
  const [state, setState] = useState<{ key: string; view: V; error: SubscribeError | null }>({ key, view: initial, error: null });
  // `open` is a new function on each render; the watch follows `key` alone, opened with the latest `open`.
  const latestOpen = useRef(open);
  latestOpen.current = open;
  useEffect(() => {
    const watch = latestOpen.current();
    setState({ key, view: watch.getView(), error: watch.error });
    const stop = watch.subscribe((view) => setState({ key, view, error: watch.error }));
    return () => {
      stop();
      watch.close();
    };
  }, [key]);
  return state.key === key ? state : { view: initial, error: null };
}
