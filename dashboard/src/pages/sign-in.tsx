import { useState } from 'preact/hooks';
import { answer, ApiError, rememberAdminKey, withKey } from '../api.ts';
import type { Overview } from '../types.ts';

/**
 * The key is checked against the API before it is kept. The input has no name and the form
 * never submits, so the key cannot end up in a URL even without JavaScript running.
 */
export function SignIn({ onSignedIn, notice }: { onSignedIn: () => void; notice?: string }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const candidate = key.trim();
    if (!candidate) {
      setError('Enter the admin key (FINCORE_ADMIN_KEY, printed at start-up when generated).');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await answer(withKey(candidate).GET('/v1/admin/overview'), { signedIn: false });
      rememberAdminKey(candidate);
      setKey('');
      onSignedIn();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(`The admin key was refused (${err.status} ${err.type}): ${err.message}`);
      else if (err instanceof ApiError) setError(`Could not sign in (${err.status || 'no answer'}): ${err.message}`);
      else setError(String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form method="post" onSubmit={submit} class="card sign-in-card" aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">FinCore operator dashboard</h1>
        {notice ? <p class="notice">{notice}</p> : null}
        <label>
          Admin key
          <input type="password" autocomplete="off" autoFocus value={key} onInput={(e) => setKey(e.currentTarget.value)} aria-describedby="key-help" />
        </label>
        <p id="key-help" class="muted">
          Kept in this browser tab only (session storage) and sent as a Bearer token. Signing out or closing the tab forgets it.
        </p>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
