/**
 * The page's connection to the service: one typed REST client and one realtime client (client/) for
 * the signed-in token, the token's workspace (`GET /v1/me`), and whether the Socket.IO connection is
 * up. Components read it with {@link useConnection}.
 */
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { createRealtimeClient, createTaskServiceClient, type RealtimeClient, type TaskServiceClient } from '../../client';
import { call, type ShownError } from './errors';

/** What every component of a signed-in page can use. */
export interface Connection {
  rest: TaskServiceClient;
  realtime: RealtimeClient;
  workspaceId: string;
  /** True while the Socket.IO connection is up. */
  live: boolean;
  signOut(): void;
}

const ConnectionContext = createContext<Connection | null>(null);

/** The connection of the signed-in page (only below {@link ConnectionProvider}). */
export function useConnection(): Connection {
  const connection = useContext(ConnectionContext);
  if (!connection) throw new Error('useConnection outside ConnectionProvider');
  return connection;
}

/**
 * Connects with `token`: asks `GET /v1/me` for the workspace (401: `onRejected`), opens the realtime
 * client, and renders `children` once both are there.
 */
export function ConnectionProvider(props: { token: string; onRejected(error: ShownError): void; onSignOut(): void; children: ReactNode }) {
  const { token, onRejected, onSignOut } = props;
  const [state, setState] = useState<{ rest: TaskServiceClient; realtime: RealtimeClient; workspaceId: string } | null>(null);
  const [live, setLive] = useState(false);
  const [failure, setFailure] = useState<ShownError | null>(null);

  useEffect(() => {
    const baseUrl = window.location.origin;
    const rest = createTaskServiceClient({ baseUrl, token });
    let realtime: RealtimeClient | null = null;
    let stopped = false;
    const connect = async () => {
      try {
        const me = await call(rest.GET('/v1/me'));
        if (stopped) return;
        realtime = createRealtimeClient({ baseUrl, token, rest });
        realtime.socket.on('connect', () => setLive(true));
        realtime.socket.on('disconnect', () => setLive(false));
        setState({ rest, realtime, workspaceId: me.workspaceId });
      } catch (err) {
        if (stopped) return;
        const shown = err as ShownError;
        if (shown.code === 'unauthorized') onRejected(shown);
        else {
          setFailure(shown);
          setTimeout(() => void (stopped || connect()), 3000);
        }
      }
    };
    void connect();
    return () => {
      stopped = true;
      realtime?.close();
      setState(null);
    };
  }, [token, onRejected]);

  if (!state) {
    return <p className="notice">{failure ? `${failure.message} Trying again…` : 'Connecting…'}</p>;
  }
  return <ConnectionContext.Provider value={{ ...state, live, signOut: onSignOut }}>{props.children}</ConnectionContext.Provider>;
}
