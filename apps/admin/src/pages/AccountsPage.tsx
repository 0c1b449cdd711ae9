import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import type { Me } from '../lib/access.js';
import { ReasonDialog } from '../components/ReasonDialog.js';
import { Badge, ErrorBox, PageHeader, QueryView, Time } from '../components/ui.js';
import { trpc, type RouterInputs } from '../trpc.js';
import { ApiTokensSection } from './ApiTokensSection.js';

type Role = RouterInputs['admin']['users']['create']['role'];
const ROLES: { role: Role; help: string }[] = [
  { role: 'viewer', help: 'reads everything' },
  { role: 'operator', help: 'also overrides, reconciles, refunds, replays' },
  { role: 'owner', help: 'also changes flags and accounts' },
];

export function AccountsPage({ me }: { me: Me }) {
  const queryClient = useQueryClient();
  const users = useQuery(trpc.admin.users.list.queryOptions());
  const [form, setForm] = useState({ email: '', password: '', role: 'operator' as Role, reason: '' });
  const [disabling, setDisabling] = useState<string | null>(null);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.admin.users.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.admin.audit.list.pathKey() });
  };
  const create = useMutation(
    trpc.admin.users.create.mutationOptions({
      onSuccess: () => {
        setForm({ email: '', password: '', role: 'operator', reason: '' });
        refresh();
      },
    }),
  );
  const disable = useMutation(
    trpc.admin.users.disable.mutationOptions({
      onSuccess: () => {
        setDisabling(null);
        refresh();
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ ...form, email: form.email.trim(), reason: form.reason.trim() });
  };

  return (
    <div>
      <PageHeader title="Accounts" />
      <div className="grid-2">
        <section className="card" aria-labelledby="accounts-h">
          <h2 id="accounts-h">Console accounts</h2>
          <QueryView query={users} isEmpty={(u) => u.length === 0} empty="No accounts.">
            {(list) => (
              <div className="table-wrap">
                <table className="table">
                  <thead>
                    <tr>
                      <th scope="col">Email</th>
                      <th scope="col">Role</th>
                      <th scope="col">Since</th>
                      <th scope="col"><span className="visually-hidden">Actions</span></th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((u) => (
                      <tr key={u.id}>
                        <td>{u.email}</td>
                        <td>{u.disabledAt ? <Badge tone="neutral">disabled</Badge> : <Badge tone="info">{u.role}</Badge>}</td>
                        <td><Time iso={u.createdAt} /></td>
                        <td>
                          {!u.disabledAt && u.email !== me.email && (
                            <button type="button" className="btn btn-small" onClick={() => setDisabling(u.email)} aria-label={`Disable ${u.email}`}>
                              Disable
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
        </section>
        <section className="card" aria-labelledby="new-h">
          <h2 id="new-h">Add an account</h2>
          <form onSubmit={submit}>
            <div className="field">
              <label htmlFor="u-email">Email</label>
              <input id="u-email" type="email" autoComplete="off" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
            </div>
            <div className="field">
              <label htmlFor="u-password">Initial password</label>
              <input id="u-password" type="password" autoComplete="new-password" minLength={12} required value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} aria-describedby="u-password-hint" />
              <small id="u-password-hint" className="muted">At least 12 characters. Share it out of band.</small>
            </div>
            <fieldset className="radios">
              <legend>Role</legend>
              {ROLES.map((r) => (
                <label key={r.role} className="radio">
                  <input type="radio" name="role" value={r.role} checked={form.role === r.role} onChange={() => setForm({ ...form, role: r.role })} />
                  <span><strong>{r.role}</strong> <small className="muted">{r.help}</small></span>
                </label>
              ))}
            </fieldset>
            <div className="field">
              <label htmlFor="u-reason">Reason (required)</label>
              <input id="u-reason" required minLength={3} value={form.reason} onChange={(e) => setForm({ ...form, reason: e.target.value })} placeholder="e.g. joins the on-call rota" />
            </div>
            <button type="submit" className="btn btn-primary" disabled={create.isPending}>{create.isPending ? 'Adding…' : 'Add account'}</button>
            {create.isError && <ErrorBox error={create.error} title="The account was not added" />}
            {create.isSuccess && <p className="callout callout-good" role="status">Added {create.data.email} as {create.data.role}.</p>}
          </form>
        </section>
      </div>
      <ApiTokensSection />
      {disabling && (
        <ReasonDialog
          title={`Disable ${disabling}?`}
          confirmLabel="Disable account"
          busy={disable.isPending}
          error={disable.error}
          errorTitle="Not disabled"
          onCancel={() => setDisabling(null)}
          onConfirm={(reason) => disable.mutate({ email: disabling, reason })}
        >
          <p>They are signed out everywhere at once and can no longer sign in, and their API tokens stop working. Their past actions stay in the audit log.</p>
        </ReasonDialog>
      )}
    </div>
  );
}
