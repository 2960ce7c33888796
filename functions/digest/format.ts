import type { Unit } from '../kpis/definitions.ts';

/** Words the numbers need, from the locale's message file. */
export interface UnitWords {
  /** Percentage points, e.g. `pt`. */
  readonly points: string;
  /** Days, e.g. `d`. */
  readonly days: string;
  /** A missing value, e.g. `n/a`. */
  readonly na: string;
  /** A change that rounds to nothing, e.g. `unchanged` (never "+0.0" or "−0"). */
  readonly unchanged: string;
  /** An ISO week, e.g. `Week {week}, {year}`. */
  readonly week: string;
  /** A quarter, e.g. `Q{quarter} {year}`. */
  readonly quarter: string;
}

/** A period as the report has it: its kind, label and local days. */
export interface PeriodLike {
  readonly kind: 'week' | 'month' | 'quarter' | 'year' | 'custom';
  readonly label: string;
  readonly firstDay: string;
  readonly lastDay: string;
}

/** Number and date formatting for one locale and currency, with `Intl`. */
export interface Formatter {
  value(unit: Unit, v: number | null): string;
  /** A change in the KPI's unit, signed: percentage points for ratios. */
  change(unit: Unit, absolute: number | null): string;
  /** The size of a change without its sign, as the digest says it: points or percent. */
  magnitude(unit: Unit, absolute: number | null, relative: number | null): string;
  /** A signed relative change, e.g. `+25.4%`. */
  relative(v: number | null): string;
  percent(v: number | null): string;
  /** Money to the whole unit, for a narrow table: `$106,774`. */
  wholeMoney(v: number | null): string;
  count(v: number): string;
  /** Two local calendar dates (YYYY-MM-DD) as a range, e.g. `16–22 Nov 2026`. */
  dateRange(firstDay: string, lastDay: string): string;
  /** An instant in a time zone, e.g. `22 Nov 2026, 23:59`. */
  instant(iso: string, timeZone: string): string;
  /** A period in the reader's words: `Week 47, 2026`, `November 2026`, `Q4 2026`, a range. */
  period(p: PeriodLike): string;
  /** A calendar month (`YYYY-MM`) in the reader's words: `Dec 2025`. */
  month(label: string): string;
}

const MINUS = '−';

/** Builds the formatters for a locale (`en`, `ru`) and an ISO 4217 currency. */
export function formatter(locale: string, currency: string, words: UnitWords): Formatter {
  const money = new Intl.NumberFormat(locale, { style: 'currency', currency });
  const whole = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    maximumFractionDigits: 0,
    minimumFractionDigits: 0,
  });
  const percent = new Intl.NumberFormat(locale, {
    style: 'percent',
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  });
  const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(locale, {
    minimumFractionDigits: 1,
    maximumFractionDigits: 2,
  });
  const points = new Intl.NumberFormat(locale, {
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  });
  // Dates are local calendar dates already; format them as UTC so nothing shifts them.
  const day = new Intl.DateTimeFormat(locale, {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  });
  const asDate = (ymd: string): Date => new Date(`${ymd}T00:00:00Z`);
  // Months and years in the reader's words: long in English, abbreviated in Russian, whose
  // abbreviations read the same after any preposition ("к нояб. 2026 г.").
  const monthLong = new Intl.DateTimeFormat(locale, {
    month: locale.startsWith('ru') ? 'short' : 'long',
    year: 'numeric',
    timeZone: 'UTC',
  });
  const monthShort = new Intl.DateTimeFormat(locale, {
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  });
  const yearOnly = new Intl.DateTimeFormat(locale, { year: 'numeric', timeZone: 'UTC' });
  const sign = (v: number): string => (v > 0 ? '+' : v < 0 ? MINUS : '±');

  const value = (unit: Unit, v: number | null): string => {
    if (v === null) return words.na;
    switch (unit) {
      case 'count':
        return integer.format(v);
      case 'ratio':
        return percent.format(v);
      case 'money':
        return money.format(v);
      case 'days':
        return `${decimal.format(v)} ${words.days}`;
      case 'multiple':
        return `${decimal.format(v)}×`;
      case 'score':
        return v < 0 ? `${MINUS}${points.format(-v)}` : points.format(v);
    }
  };
  const pts = (v: number): string => `${points.format(Math.abs(v) * 100)} ${words.points}`;
  /** Score changes (NPS) are in the score's own points: −100..100. */
  const scorePts = (v: number): string => `${points.format(Math.abs(v))} ${words.points}`;
  /** Whether a size, as shown, is zero: it is said as "unchanged", with no sign. */
  const zeroShown = (shown: string, zero: string): boolean => shown === zero;
  const zeros = {
    pts: pts(0),
    score: scorePts(0),
    percent: percent.format(0),
  };
  return {
    value,
    change(unit, absolute) {
      if (absolute === null) return words.na;
      const size =
        unit === 'ratio'
          ? pts(absolute)
          : unit === 'score'
            ? scorePts(absolute)
            : value(unit, Math.abs(absolute));
      const zero = unit === 'ratio' ? zeros.pts : unit === 'score' ? zeros.score : value(unit, 0);
      return zeroShown(size, zero) ? words.unchanged : `${sign(absolute)}${size}`;
    },
    magnitude(unit, absolute, relative) {
      if (absolute === null) return words.na;
      if (unit === 'ratio') return pts(absolute);
      if (unit === 'score') return scorePts(absolute);
      return relative === null
        ? value(unit, Math.abs(absolute))
        : percent.format(Math.abs(relative));
    },
    relative: (v) => {
      if (v === null) return words.na;
      const size = percent.format(Math.abs(v));
      return zeroShown(size, zeros.percent) ? words.unchanged : `${sign(v)}${size}`;
    },
    percent: (v) => (v === null ? words.na : percent.format(v)),
    count: (v) => integer.format(v),
    wholeMoney: (v) => (v === null ? words.na : whole.format(v).replace('-', MINUS)),
    dateRange: (a, b) => (a === b ? day.format(asDate(a)) : day.formatRange(asDate(a), asDate(b))),
    period: (p) => {
      const [year = '', part = ''] = p.label.split(/-[WQ]?/);
      switch (p.kind) {
        case 'week':
          return words.week.replace('{week}', String(Number(part))).replace('{year}', year);
        case 'quarter':
          return words.quarter.replace('{quarter}', part).replace('{year}', year);
        case 'month':
          return monthLong.format(asDate(`${p.label}-01`));
        case 'year':
          return yearOnly.format(asDate(`${p.label}-01-01`));
        case 'custom':
          return p.firstDay === p.lastDay
            ? day.format(asDate(p.firstDay))
            : day.formatRange(asDate(p.firstDay), asDate(p.lastDay));
      }
    },
    // Anything but a month label is shown as it is.
    month: (label) =>
      /^\d{4}-\d{2}$/.test(label) ? monthShort.format(asDate(`${label}-01`)) : label,
    instant: (iso, timeZone) =>
      new Intl.DateTimeFormat(locale, {
        day: 'numeric',
        month: 'short',
        year: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
        timeZone,
      }).format(new Date(iso)),
  };
}
