/** Throttling names the AWS SDK clients use (Athena, SES v2). */
export const THROTTLING = new Set(['ThrottlingException', 'TooManyRequestsException']);

export function isThrottling(e: unknown): boolean {
  return e instanceof Error && THROTTLING.has(e.name);
}

export interface BackoffOptions {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  /** @default isThrottling */
  readonly retryable?: (e: unknown) => boolean;
}

const BASE_MS = 200;
const CAP_MS = 10_000;

/**
 * Calls `call` until it succeeds, retrying retryable errors with capped exponential backoff
 * and full jitter (a random wait up to 200 ms, 400 ms, … 10 s); the last error is rethrown.
 */
export async function withBackoff<R>(call: () => Promise<R>, o: BackoffOptions): Promise<R> {
  const retryable = o.retryable ?? isThrottling;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!retryable(e) || attempt >= o.attempts) throw e;
      await o.sleep(Math.round(Math.min(CAP_MS, BASE_MS * 2 ** (attempt - 1)) * o.random()));
    }
  }
}
