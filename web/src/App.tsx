/**
 * The workbench page: signs in with a bearer token, then routes `/` (the workspace's tasks and the
 * create form) and `/tasks/:id` (the task page). Everything it knows comes through the typed client.
 */
import { useCallback, useState } from 'react';
import { Link, Route, Routes } from 'react-router';
import { ConnectionProvider, useConnection } from './connection';
import type { ShownError } from './errors';
import { NotFoundPage } from './pages/NotFoundPage';
import { SignInPage } from './pages/SignInPage';
import { TaskPage } from './pages/TaskPage';
import { WorkspacePage } from './pages/WorkspacePage';
import { loadToken, saveToken } from './token';

export function App() {
  const [token, setToken] = useState<string | null>(() => loadToken());
  const [rejected, setRejected] = useState<ShownError | null>(null);
  const signIn = useCallback((next: string) => {
    saveToken(next);
    setRejected(null);
    setToken(next);
  }, []);
  const signOut = useCallback(() => {
    saveToken(null);
    setToken(null);
  }, []);
  const onRejected = useCallback(
    (error: ShownError) => {
      signOut();
      setRejected(error);
    },
    [signOut],
  );

  if (!token) return <SignInPage onSignIn={signIn} rejected={rejected} />;
  return (
    <ConnectionProvider token={token} onRejected={onRejected} onSignOut={signOut}>
      <Header />
      <main>
        <Routes>
          <Route path="/" element={<WorkspacePage />} />
          <Route path="/tasks/:taskId" element={<TaskPage />} />
          <Route path="*" element={<NotFoundPage what="page" />} />
        </Routes>
      </main>
    </ConnectionProvider>
  );
}

function Header() {
  const { workspaceId, live, signOut } = useConnection();
  return (
    <header className="top">
      <Link to="/" className="brand">
        Workbench
      </Link>
      <span className="workspace" data-testid="workspace">
        {workspaceId}
      </span>
      <span className={live ? 'live on' : 'live off'} data-testid="connection" data-live={live}>
        {live ? 'live' : 'reconnecting…'}
      </span>
      <button type="button" className="link" onClick={signOut}>
        Sign out
      </button>
    </header>
  );
}
