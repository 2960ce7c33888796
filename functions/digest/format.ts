import type { Unit } from '../kpis/definitions.ts';

/** Number formatting for one locale and currency. */
export interface Formatter {
  value(unit: Unit, v: number | null): string;
  /** A change in the KPI's unit: percentage points for ratios. */
  change(unit: Unit, absolute: number | null): string;
  percent(v: number | null): string;
  count(v: number): string;
}

/** Builds `Intl` formatters for a locale and an ISO 4217 currency. */
export function formatter(locale: string, currency: string): Formatter {
  const money = new Intl.NumberFormat(locale, { style: 'currency', currency });
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
  const na = 'n/a';
  const value = (unit: Unit, v: number | null): string => {
    if (v === null) return na;
    switch (unit) {
      case 'count':
        return integer.format(v);
      case 'ratio':
        return percent.format(v);
      case 'money':
        return money.format(v);
      case 'days':
        return `${decimal.format(v)} d`;
      case 'multiple':
        return `${decimal.format(v)}×`;
    }
  };
  return {
    value,
    change(unit, absolute) {
      if (absolute === null) return na;
      const sign = absolute > 0 ? '+' : absolute < 0 ? '−' : '±';
      if (unit === 'ratio') return `${sign}${points.format(Math.abs(absolute) * 100)} pt`;
      return `${sign}${value(unit, Math.abs(absolute))}`;
    },
    percent: (v) => (v === null ? na : percent.format(v)),
    count: (v) => integer.format(v),
  };
}
