import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { errorCode, errorMessage, trpc } from '../trpc.js';

export function LoginPage({ notice, onSignedIn }: { notice: string | null; onSignedIn: () => void }) {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const login = useMutation(
    trpc.auth.login.mutationOptions({
      onSuccess: async () => {
        onSignedIn();
        await queryClient.invalidateQueries({ queryKey: trpc.auth.me.queryKey() });
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate({ email, password });
  };
  const code = login.isError ? errorCode(login.error) : null;
  return (
    <main className="login" id="main">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title" noValidate>
        <h1 id="login-title">
          Settle <span className="brand-sub">console</span>
        </h1>
        <p className="muted">Sign in to look after payments.</p>
        {notice && !login.isError && (
          <p className="callout callout-info" role="status">
            {notice}
          </p>
        )}
        {login.isError && (
          <div className="callout callout-bad" role="alert">
            {code === 'UNAUTHORIZED' ? 'That email and password do not match an active account.' : errorMessage(login.error)}
          </div>
        )}
        <div className="field">
          <label htmlFor="login-email">Email</label>
          <input id="login-email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />
        </div>
        <div className="field">
          <label htmlFor="login-password">Password</label>
          <input id="login-password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        <button type="submit" className="btn btn-primary btn-block" disabled={login.isPending || !email || !password}>
          {login.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
