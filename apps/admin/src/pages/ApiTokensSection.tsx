import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ReasonDialog } from '../components/ReasonDialog.js';
import { Badge, Copyable, ErrorBox, QueryView, Time } from '../components/ui.js';
import { trpc, type RouterInputs } from '../trpc.js';

type Role = RouterInputs['admin']['tokens']['create']['role'];

/**
 * Admin API tokens (owners only): each belongs to the account that made it, acts with at most
 * its role, and stops working when that account is disabled. The token is shown once.
 */
export function ApiTokensSection() {
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.admin.tokens.list.queryOptions());
  const [form, setForm] = useState({ name: '', role: 'viewer' as Role, reason: '' });
  const [revoking, setRevoking] = useState<string | null>(null);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.admin.tokens.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.admin.audit.list.pathKey() });
  };
  const create = useMutation(
    trpc.admin.tokens.create.mutationOptions({
      onSuccess: () => {
        setForm({ name: '', role: 'viewer', reason: '' });
        refresh();
      },
    }),
  );
  const revoke = useMutation(
    trpc.admin.tokens.revoke.mutationOptions({
      onSuccess: () => {
        setRevoking(null);
        refresh();
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ name: form.name.trim(), role: form.role, reason: form.reason.trim() });
  };

  return (
    <section className="card" aria-labelledby="tokens-h">
      <h2 id="tokens-h">API tokens</h2>
      <p className="muted">For automation. A token acts for the account that created it and stops working when that account is disabled.</p>
      <QueryView query={tokens} isEmpty={(t) => t.length === 0} empty="No API tokens.">
        {(list) => (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Account</th>
                  <th scope="col">Last used</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {list.map((t) => (
                  <tr key={t.id}>
                    <td>{t.name}</td>
                    <td>{t.revokedAt ? <Badge tone="neutral">revoked</Badge> : <Badge tone="info">{t.role}</Badge>}</td>
                    <td>{t.owner ?? <span className="muted">none (CLI)</span>}</td>
                    <td><Time iso={t.lastUsedAt} /></td>
                    <td>
                      {!t.revokedAt && (
                        <button type="button" className="btn btn-small" onClick={() => setRevoking(t.name)} aria-label={`Revoke ${t.name}`}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
      <form onSubmit={submit} aria-labelledby="new-token-h">
        <h3 id="new-token-h">New token</h3>
        <div className="field">
          <label htmlFor="t-name">Name</label>
          <input id="t-name" required pattern="[A-Za-z0-9][A-Za-z0-9._\-]{1,63}" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} placeholder="e.g. deploy-bot" />
        </div>
        <div className="field">
          <label htmlFor="t-role">Role</label>
          <select id="t-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
            <option value="viewer">viewer</option>
            <option value="operator">operator</option>
            <option value="owner">owner</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="t-reason">Reason (required)</label>
          <input id="t-reason" required minLength={3} value={form.reason} onChange={(e) => setForm({ ...form, reason: e.target.value })} />
        </div>
        <button type="submit" className="btn btn-primary" disabled={create.isPending}>{create.isPending ? 'Creating…' : 'Create token'}</button>
        {create.isError && <ErrorBox error={create.error} title="No token was created" />}
        {create.isSuccess && (
          <div className="callout callout-good" role="status">
            <p>Token {create.data.name} created. Copy it now: it is not shown again.</p>
            <Copyable value={create.data.token} label="token" />
          </div>
        )}
      </form>
      {revoking && (
        <ReasonDialog
          title={`Revoke ${revoking}?`}
          confirmLabel="Revoke token"
          busy={revoke.isPending}
          error={revoke.error}
          errorTitle="Not revoked"
          onCancel={() => setRevoking(null)}
          onConfirm={(reason) => revoke.mutate({ name: revoking, reason })}
        >
          <p>Anything using this token is refused from now on.</p>
        </ReasonDialog>
      )}
    </section>
  );
}
