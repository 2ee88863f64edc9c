/** Sign-in: the user pastes a bearer token (API_TOKENS of the service); it is kept in this browser. */
import { useState, type FormEvent } from 'react';
import type { ShownError } from '../errors';

export function SignInPage(props: { onSignIn(token: string): void; rejected: ShownError | null }) {
  const [token, setToken] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) props.onSignIn(token.trim());
  };
  return (
    <main className="signin">
      <h1>Workbench</h1>
      <form onSubmit={submit}>
        <label>
          API token
          <input name="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} placeholder="a token from API_TOKENS" />
        </label>
        <button type="submit" disabled={!token.trim()}>
          Sign in
        </button>
        {props.rejected && (
          <p className="error" role="alert">
            That token was not accepted: {props.rejected.message}
          </p>
        )}
      </form>
    </main>
  );
}
