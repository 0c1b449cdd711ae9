import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import type { Me } from '../lib/access.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
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
  const [action, setAction] = useState<{ kind: AccountAction; email: string } | null>(null);
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
  const done = { onSuccess: () => { setAction(null); refresh(); } };
  const disable = useMutation(trpc.admin.users.disable.mutationOptions(done));
  const enable = useMutation(trpc.admin.users.enable.mutationOptions(done));
  const reset = useMutation(trpc.admin.users.resetPassword.mutationOptions(done));
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
                            <button type="button" className="btn btn-small" onClick={() => setAction({ kind: 'disable', email: u.email })} aria-label={`Disable ${u.email}`}>
                              Disable
                            </button>
                          )}
                          {u.disabledAt && (
                            <button type="button" className="btn btn-small" onClick={() => setAction({ kind: 'enable', email: u.email })} aria-label={`Enable ${u.email}`}>
                              Enable
                            </button>
                          )}{' '}
                          <button type="button" className="btn btn-small" onClick={() => setAction({ kind: 'reset', email: u.email })} aria-label={`Reset the password of ${u.email}`}>
                            Reset password
                          </button>
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
              <input id="u-reason" required minLength={3} maxLength={500} value={form.reason} onChange={(e) => setForm({ ...form, reason: e.target.value })} placeholder="e.g. joins the on-call rota" />
            </div>
            <button type="submit" className="btn btn-primary" disabled={create.isPending}>{create.isPending ? 'Adding…' : 'Add account'}</button>
            {create.isError && <ErrorBox error={create.error} title="The account was not added" />}
            {create.isSuccess && <p className="callout callout-good" role="status">Added {create.data.email} as {create.data.role}.</p>}
          </form>
        </section>
      </div>
      <ApiTokensSection />
      {action && (
        <AccountDialog
          action={action.kind}
          email={action.email}
          mutation={action.kind === 'disable' ? disable : action.kind === 'enable' ? enable : reset}
          onCancel={() => setAction(null)}
          onConfirm={(reason, password) => {
            if (action.kind === 'disable') disable.mutate({ email: action.email, reason });
            else if (action.kind === 'enable') enable.mutate({ email: action.email, reason });
            else reset.mutate({ email: action.email, reason, password });
          }}
        />
      )}
    </div>
  );
}

type AccountAction = 'disable' | 'enable' | 'reset';

const ACTION_TEXT: Record<AccountAction, { title: string; confirm: string; body: string; refused: string }> = {
  disable: { title: 'Disable', confirm: 'Disable account', body: 'They are signed out everywhere at once and can no longer sign in, and their API tokens stop working. Their past actions stay in the audit log.', refused: 'Not disabled' },
  enable: { title: 'Enable', confirm: 'Enable account', body: 'They can sign in again with their old password (reset it too if they lost it), with the role they had. API tokens revoked on disabling stay revoked.', refused: 'Not enabled' },
  reset: { title: 'Reset the password of', confirm: 'Set new password', body: 'Their sessions end at once; they sign in with the new password. Share it out of band. The password is not written to the audit log; the reset is.', refused: 'Password not changed' },
};

function AccountDialog({ action, email, mutation, onCancel, onConfirm }: { action: AccountAction; email: string; mutation: { isPending: boolean; isError: boolean; error: unknown }; onCancel: () => void; onConfirm: (reason: string, password: string) => void }) {
  const [reason, setReason] = useState('');
  const [password, setPassword] = useState('');
  const text = ACTION_TEXT[action];
  return (
    <ConfirmDialog
      open
      title={`${text.title} ${email}?`}
      confirmLabel={text.confirm}
      danger={action === 'disable'}
      busy={mutation.isPending}
      confirmDisabled={reason.trim().length < 3 || (action === 'reset' && password.length < 12)}
      onCancel={onCancel}
      onConfirm={() => onConfirm(reason.trim(), password)}
    >
      <p>{text.body}</p>
      {action === 'reset' && (
        <div className="field">
          <label htmlFor="account-password">New password</label>
          <input id="account-password" type="password" autoComplete="new-password" minLength={12} maxLength={1024} value={password} onChange={(e) => setPassword(e.target.value)} aria-describedby="account-password-hint" />
          <small id="account-password-hint" className="muted">At least 12 characters.</small>
        </div>
      )}
      <div className="field">
        <label htmlFor="account-reason">Reason (required)</label>
        <input id="account-reason" maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />
      </div>
      {mutation.isError && <ErrorBox error={mutation.error} title={text.refused} />}
    </ConfirmDialog>
  );
}
