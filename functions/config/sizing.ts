/**
 * How big the report function must be for a shop, from what `npm run bench` measures: a
 * full weekly run recorded on DuckDB and replayed in a fresh process by an engine that
 * returns the recorded results and loads no database, which is what the function does on
 * Athena (it holds each statement's result, fits the lifetime model, renders the digest).
 * The bench prints its own fit next to these constants; docs/sizing.md has the table.
 */

/**
 * Peak memory of a run apart from its customers: Node, MJML, the report (the replay loads no
 * AWS SDK; the headroom covers it).
 */
export const FUNCTION_BASE_MB = 240;
/** Peak memory per customer in the source (ever, not only active): the per-customer results. */
export const FUNCTION_KB_PER_CUSTOMER = 0.73;
/**
 * The function's own computing (no Athena wait) per million customers, on one full vCPU:
 * 12.5 s before the lifetime values were discounted month by month (issue 16), which made
 * a replayed 5M-order run take 1.42 times as long (docs/sizing.md).
 */
export const COMPUTE_SECONDS_PER_MILLION_CUSTOMERS = 18;
/** Memory allocated over the measured peak: other shops' data is shaped differently. */
export const MEMORY_HEADROOM = 1.5;
/** Lambda gives one full vCPU at this much memory, and a share of one below it. */
const FULL_VCPU_MB = 1769;
/** The least memory the stack gives the function. */
export const MIN_MEMORY_MB = 1024;
export const MAX_MEMORY_MB = 10240;

/** The measured peak memory of a run for a shop of `customers`, in MB. */
export function memoryNeedMb(customers: number): number {
  return Math.ceil(FUNCTION_BASE_MB + (customers * FUNCTION_KB_PER_CUSTOMER) / 1024);
}

/** The memory to give the function: the need with headroom, in 64 MB steps, at least 1 GB. */
export function memoryFor(customers: number): number {
  const wanted = Math.ceil((memoryNeedMb(customers) * MEMORY_HEADROOM) / 64) * 64;
  return Math.max(MIN_MEMORY_MB, wanted);
}

/** The function's own computing time at `memoryMb` (Lambda's CPU share grows with memory). */
export function computeSeconds(customers: number, memoryMb: number): number {
  const share = Math.min(1, memoryMb / FULL_VCPU_MB);
  return ((customers / 1e6) * COMPUTE_SECONDS_PER_MILLION_CUSTOMERS) / share;
}

/** The most customers one function serves: the most whose memory given fits in Lambda's 10 GB. */
export const MAX_CUSTOMERS = ((): number => {
  let lo = 0;
  let hi = 1e9;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (memoryFor(mid) <= MAX_MEMORY_MB) lo = mid;
    else hi = mid;
  }
  return lo;
})();
