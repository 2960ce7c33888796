import { rankTree, timestampLiteral } from './dialect.ts';

/** One period the KPI statements measure, with every boundary it needs as a UTC instant. */
export interface MeasuredPeriod {
  readonly start: Date;
  readonly end: Date;
  /** `start − activeWindowDays` local days. */
  readonly startWindow: Date;
  /** `end − activeWindowDays` local days. */
  readonly endWindow: Date;
  /** `end − 365` local days. */
  readonly yearBeforeEnd: Date;
  /** `end − atRiskDays` local days. */
  readonly atRiskBeforeEnd: Date;
  /** `end − 730` local days: the start of the year before the 365 days before the end. */
  readonly twoYearsBeforeEnd: Date;
}

/** Valid-order slices per BIGINT mask word (bit 63 is the sign; 62 keeps shifts simple). */
export const BITS_PER_WORD = 62;

/**
 * The time line cut at every boundary any period needs: slice `k` is `[B(k−1), B(k))`, slice
 * 0 everything before the first boundary and slice `B.length` everything from the last on
 * (which no period needs). A customer's valid orders become one bit per slice in BIGINT mask
 * words `m0`, `m1`, …; every customer-set KPI is then a bit test.
 */
export interface SliceLayout {
  /** The boundaries, ascending. */
  readonly boundaries: readonly Date[];
  /** Number of mask words. */
  readonly maskCount: number;
  /** Index of a boundary: the slice that ends at it is `idx(d)`. */
  idx(d: Date): number;
  /** Inclusive slice range of `[a, b)`. */
  range(a: Date, b: Date): [number, number];
  /** SQL: the slice of `ordered_at` (a balanced CASE tree, about log2(boundaries) tests). */
  readonly sliceOf: string;
  /** SQL: the slice `column` (default `s`) lies in `[a, b)`. */
  sIn(a: Date, b: Date, column?: string): string;
  /** Per mask word, the bits of slices lo..hi (inclusive), as BIGINT decimal literals. */
  wordBits(lo: number, hi: number): string[];
  /** Contiguous blocks of periods `[start, end)`, in time order. */
  readonly blocks: readonly { start: Date; end: Date }[];
}

/**
 * Merges periods that touch or overlap into disjoint blocks `[start, end)`, in time order.
 * (A custom period's year-ago period can lie inside its trend.)
 */
function blocksOf(periods: readonly MeasuredPeriod[]): { start: Date; end: Date }[] {
  const sorted = [...periods].sort((a, b) => a.start.getTime() - b.start.getTime());
  const out: { start: Date; end: Date }[] = [];
  for (const p of sorted) {
    const last = out.at(-1);
    if (last && last.end.getTime() >= p.start.getTime()) {
      if (p.end.getTime() > last.end.getTime()) last.end = p.end;
    } else out.push({ start: p.start, end: p.end });
  }
  return out;
}

export function sliceLayout(periods: readonly MeasuredPeriod[]): SliceLayout {
  if (periods.length === 0) throw new Error('a slice layout needs at least one period');
  const boundaryMs = [
    ...new Set(
      periods.flatMap((p) =>
        [
          p.start,
          p.end,
          p.startWindow,
          p.endWindow,
          p.yearBeforeEnd,
          p.atRiskBeforeEnd,
          p.twoYearsBeforeEnd,
        ].map((d) => d.getTime()),
      ),
    ),
  ].sort((a, b) => a - b);
  const boundaries = boundaryMs.map((ms) => new Date(ms));
  const idx = (d: Date): number => {
    const i = boundaryMs.indexOf(d.getTime());
    if (i < 0) throw new Error(`boundary ${d.toISOString()} is not a slice boundary`);
    return i;
  };
  const range = (a: Date, b: Date): [number, number] => [idx(a) + 1, idx(b)];
  const maskCount = Math.ceil(boundaries.length / BITS_PER_WORD);
  return {
    boundaries,
    maskCount,
    idx,
    range,
    sliceOf: rankTree('ordered_at', boundaries.map(timestampLiteral)),
    sIn: (a, b, column = 's') => {
      const [lo, hi] = range(a, b);
      return lo === hi ? `${column} = ${lo}` : `${column} BETWEEN ${lo} AND ${hi}`;
    },
    wordBits: (lo, hi) =>
      Array.from({ length: maskCount }, (_, m) => {
        let bits = 0n;
        for (
          let k = Math.max(lo, m * BITS_PER_WORD);
          k <= Math.min(hi, m * BITS_PER_WORD + BITS_PER_WORD - 1);
          k++
        ) {
          bits |= 1n << BigInt(k - m * BITS_PER_WORD);
        }
        return bits.toString();
      }),
    blocks: blocksOf(periods),
  };
}
