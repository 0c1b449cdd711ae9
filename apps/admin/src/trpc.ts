import type { AppRouter } from '@settle/api';
import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;

/** The tRPC error code of a failed call (`UNAUTHORIZED`, `FORBIDDEN`, ...), if it is one. */
export function errorCode(error: unknown): string | null {
  if (error instanceof TRPCClientError) {
    const data = error.data as { code?: unknown } | undefined;
    return typeof data?.code === 'string' ? data.code : null;
  }
  return null;
}

/** A message an operator can act on, with the failing fields when the input was refused. */
export function errorMessage(error: unknown): string {
  if (error instanceof TRPCClientError) {
    const data = error.data as { fieldErrors?: { path: string; message: string }[] } | undefined;
    if (data?.fieldErrors?.length) return data.fieldErrors.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message)).join('; ');
    if (error.message.startsWith('Failed to fetch') || error.message.includes('NetworkError')) return 'The API cannot be reached. Check your connection and try again.';
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Set by the app shell: what to do when the session has ended (expired, disabled, logged out elsewhere). */
let onSessionEnded: () => void = () => {};
export function handleSessionEnded(fn: () => void): void {
  onSessionEnded = fn;
}
const checkSession = (error: unknown) => {
  if (errorCode(error) === 'UNAUTHORIZED') onSessionEnded();
};

export const queryClient = new QueryClient({
  queryCache: new QueryCache({ onError: checkSession }),
  mutationCache: new MutationCache({ onError: checkSession }),
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      // Client errors (no session, no role, bad input, not found) will not fix themselves.
      retry: (failures, error) => {
        const code = errorCode(error);
        return failures < 2 && (code === null || code === 'INTERNAL_SERVER_ERROR' || code === 'TIMEOUT');
      },
    },
  },
});

/** The console talks to the API only through tRPC, typed by `AppRouter` alone. */
export const trpcClient = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: '/trpc',
      maxURLLength: 4000,
      fetch: (input, init) => fetch(input, { ...init, credentials: 'same-origin' }),
    }),
  ],
});

export const trpc = createTRPCOptionsProxy<AppRouter>({ client: trpcClient, queryClient });
