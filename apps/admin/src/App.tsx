import { useQuery } from '@tanstack/react-query';
import { trpc } from './trpc.js';

const money = (amount: number, currency: string) =>
  new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(amount / 100);

export function App() {
  const products = useQuery(trpc.products.list.queryOptions());
  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 960, margin: '0 auto', padding: 16 }}>
      <h1>Settle console</h1>
      <section aria-labelledby="catalogue">
        <h2 id="catalogue">Catalogue</h2>
        {products.isPending && <p>Loading…</p>}
        {products.isError && <p role="alert">Could not load products: {products.error.message}</p>}
        {products.data?.length === 0 && <p>No products.</p>}
        {products.data && products.data.length > 0 && (
          <table>
            <thead>
              <tr><th scope="col">Product</th><th scope="col">Mode</th><th scope="col">Price</th></tr>
            </thead>
            <tbody>
              {products.data.map((p) => (
                <tr key={p.id}><td>{p.name}</td><td>{p.mode}</td><td>{money(p.amount, p.currency)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  );
}
