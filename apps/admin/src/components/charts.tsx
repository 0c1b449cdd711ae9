import type { ReactNode } from 'react';
import { Link } from '../router.js';

/** Colours come from CSS custom properties so the charts follow the theme. */
export type SeriesColor = 'blue' | 'green' | 'amber' | 'red' | 'grey' | 'violet';

const W = 480;
const H = 150;
const PAD = { top: 8, right: 8, bottom: 18, left: 36 };

const hour = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit' });
const dayHour = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
/** Axis labels: the time of day, with the date once the range spans more than a day. */
const tick = (iso: string, times: string[]) => {
  const first = times[0];
  const last = times.at(-1);
  const long = first && last && new Date(last).getTime() - new Date(first).getTime() >= 86_400_000 - 1;
  return (long ? dayHour : hour).format(new Date(iso));
};

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  const n = v / p;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * p;
}

function Frame({ label, max, format, times, children }: { label: string; max: number; format: (v: number) => string; times: string[]; children: ReactNode }) {
  const first = times[0];
  const last = times.at(-1);
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      <title>{label}</title>
      <line className="chart-grid" x1={PAD.left} x2={W - PAD.right} y1={PAD.top} y2={PAD.top} />
      <line className="chart-grid" x1={PAD.left} x2={W - PAD.right} y1={(H - PAD.bottom + PAD.top) / 2} y2={(H - PAD.bottom + PAD.top) / 2} />
      <line className="chart-axis" x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} />
      <text className="chart-label" x={PAD.left - 4} y={PAD.top + 4} textAnchor="end">
        {format(max)}
      </text>
      <text className="chart-label" x={PAD.left - 4} y={H - PAD.bottom} textAnchor="end">
        0
      </text>
      {first && (
        <text className="chart-label" x={PAD.left} y={H - 4}>
          {tick(first, times)}
        </text>
      )}
      {last && last !== first && (
        <text className="chart-label" x={W - PAD.right} y={H - 4} textAnchor="end">
          {tick(last, times)}
        </text>
      )}
      {children}
    </svg>
  );
}

export type Series = { name: string; color: SeriesColor; values: (number | null)[] };

/** Lines over time buckets (gaps where a value is null). */
export function LineChart({ times, series, format = String, label }: { times: string[]; series: Series[]; format?: (v: number) => string; label: string }) {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = niceMax(Math.max(0, ...all));
  const x = (i: number) => PAD.left + (times.length <= 1 ? 0 : (i / (times.length - 1)) * (W - PAD.left - PAD.right));
  const y = (v: number) => H - PAD.bottom - (v / max) * (H - PAD.bottom - PAD.top);
  return (
    <figure className="chart-figure">
      <Frame label={label} max={max} format={format} times={times}>
        {series.map((s) => {
          const segments: string[] = [];
          let d = '';
          // A point with no neighbour draws no line: it gets a dot so a single bucket still shows.
          const dots: number[] = [];
          s.values.forEach((v, i) => {
            if (v === null) {
              if (d) segments.push(d);
              d = '';
              return;
            }
            if (s.values[i - 1] == null && s.values[i + 1] == null) dots.push(i);
            d += `${d ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
          });
          if (d) segments.push(d);
          return (
            <g key={s.name} className={`series-${s.color}`}>
              {segments.map((seg, i) => (
                <path key={i} d={seg} className="chart-line" vectorEffect="non-scaling-stroke" />
              ))}
              {dots.map((i) => (
                <circle key={i} cx={x(i)} cy={y(s.values[i] ?? 0)} r={2.5} className="chart-dot" />
              ))}
            </g>
          );
        })}
      </Frame>
      <Legend series={series} />
    </figure>
  );
}

/** Stacked bars per time bucket: how a total splits into parts over time. */
export function StackedBars({ times, series, label }: { times: string[]; series: Series[]; label: string }) {
  const totals = times.map((_, i) => series.reduce((n, s) => n + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const slot = (W - PAD.left - PAD.right) / Math.max(1, times.length);
  const barW = Math.max(1, slot * 0.75);
  const scale = (v: number) => (v / max) * (H - PAD.bottom - PAD.top);
  return (
    <figure className="chart-figure">
      <Frame label={label} max={max} format={(v) => String(Math.round(v))} times={times}>
        {times.map((t, i) => {
          let base = H - PAD.bottom;
          return (
            <g key={t}>
              {series.map((s) => {
                const v = s.values[i] ?? 0;
                if (v <= 0) return null;
                const h = scale(v);
                base -= h;
                return (
                  <rect key={s.name} className={`bar series-${s.color}`} x={PAD.left + i * slot + (slot - barW) / 2} y={base} width={barW} height={h}>
                    <title>{`${hour.format(new Date(t))} ${s.name}: ${v}`}</title>
                  </rect>
                );
              })}
            </g>
          );
        })}
      </Frame>
      <Legend series={series} />
    </figure>
  );
}

function Legend({ series }: { series: Series[] }) {
  return (
    <figcaption className="legend">
      {series.map((s) => (
        <span key={s.name} className="legend-item">
          <span className={`swatch series-${s.color}`} aria-hidden="true" />
          {s.name}
        </span>
      ))}
    </figcaption>
  );
}

/** Horizontal bars with their numbers: readable without the graphic, each row optionally a link. */
export function BarList({ items, label }: { items: { key: string; label: string; value: number; color: SeriesColor; to?: string }[]; label: string }) {
  const max = Math.max(1, ...items.map((i) => i.value));
  return (
    <ul className="barlist" aria-label={label}>
      {items.map((item) => {
        const content = (
          <>
            <span className="barlist-label">{item.label}</span>
            <span className="barlist-track" aria-hidden="true">
              <span className={`barlist-bar series-${item.color}`} style={{ width: `${(item.value / max) * 100}%` }} />
            </span>
            <span className="barlist-value">{item.value.toLocaleString('en')}</span>
          </>
        );
        return <li key={item.key}>{item.to ? <Link to={item.to} className="barlist-row">{content}</Link> : <span className="barlist-row">{content}</span>}</li>;
      })}
    </ul>
  );
}
