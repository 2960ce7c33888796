import en from '../../templates/messages/en.json' with { type: 'json' };
import ru from '../../templates/messages/ru.json' with { type: 'json' };
import { kpiDefinition, type KpiId } from '../kpis/definitions.ts';

/** The digest's locales; the message files live in `templates/messages/`. */
export const LOCALES = ['en', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];

/** Every locale file has the shape of the English one; KPI names may be translated. */
type MessageFile = typeof en & {
  readonly kpis?: Partial<Record<KpiId, { readonly name: string; readonly definition: string }>>;
};

const FILES: Record<Locale, MessageFile> = { en, ru };

/** Fills `{name}` placeholders; a placeholder without a value is a bug, so it throws. */
export function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`message "${template}" needs {${key}}`);
    return v;
  });
}

/** The messages of one locale, and the KPI names and definitions in it. */
export interface Messages {
  readonly locale: Locale;
  readonly m: typeof en;
  kpiName(id: KpiId): string;
  kpiDefinition(id: KpiId): string;
}

export function messagesFor(locale: string): Messages {
  if (!(LOCALES as readonly string[]).includes(locale)) {
    throw new Error(`no messages for locale "${locale}" (have ${LOCALES.join(', ')})`);
  }
  const file = FILES[locale as Locale];
  return {
    locale: locale as Locale,
    m: file,
    kpiName: (id) => file.kpis?.[id]?.name ?? kpiDefinition(id).name,
    kpiDefinition: (id) => file.kpis?.[id]?.definition ?? kpiDefinition(id).definition,
  };
}
