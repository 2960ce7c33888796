/**
 * A run that gives up before its function's timeout: its queries are stopped, its lease is
 * given back (nothing in flight is lost: a batch is never abandoned while SES has it), and
 * the invocation fails, so that the next attempt starts at once instead of waiting for the
 * lease of a killed run to run out.
 */
export class RunAbandoned extends Error {
  override name = 'RunAbandoned';
}

/** Throws RunAbandoned when `signal` has fired. */
export function throwIfAbandoned(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) {
    throw new RunAbandoned(`abandoned before its deadline: ${what}`, { cause: signal.reason });
  }
}

/**
 * A run's clean-up (dropping its own table) still runs after it was abandoned, so that an
 * abandoned Athena run leaves no table behind.
 */
export function isCleanup(sql: string): boolean {
  return /^\s*DROP TABLE IF EXISTS /i.test(sql);
}
