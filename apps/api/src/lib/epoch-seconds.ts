/**
 * Stripe's times are epoch seconds; the database's are timestamps. PGlite and node-postgres may
 * hand a timestamp back as a Date or a string, hence `new Date(d)`.
 */
export const toSeconds = (d: Date | string | null): number | null => (d ? Math.floor(new Date(d).getTime() / 1000) : null);
export const fromSeconds = (s: number | null): Date | null => (s === null ? null : new Date(s * 1000));
