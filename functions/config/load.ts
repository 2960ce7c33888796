import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { z } from 'zod';
import { configSchema, type Config, type ConfigInput } from './schema.ts';
import { grammarIssues } from './grammar.ts';

/** Configuration that failed validation; `issues` holds one line per problem. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly issues: readonly string[],
    readonly file?: string,
  ) {
    super(
      `invalid configuration${file ? ` in ${file}` : ''} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  - ${i}`).join('\n'),
    );
  }
}

/** Identity helper that gives a `kpi.config.ts` file its types. */
export function defineConfig(config: ConfigInput): ConfigInput {
  return config;
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    out += typeof key === 'number' ? `[${key}]` : `${out ? '.' : ''}${String(key)}`;
  }
  return out || '(root)';
}

function received(issue: z.core.$ZodIssue): string {
  if (!('input' in issue) || issue.code === 'unrecognized_keys') return '';
  // zod's own type messages already say what they received.
  if (issue.code === 'invalid_type') return '';
  const input = issue.input;
  if (input === undefined) return '; received nothing';
  const shown = JSON.stringify(input);
  return `; received ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}`;
}

/** Formats every zod issue as `field: what is expected; received value`. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map(
    (issue) => `${fieldPath(issue.path)}: ${issue.message}${received(issue)}`,
  );
}

/**
 * Validates a configuration object, filling defaults. Every problem is collected and
 * reported together in one `ConfigError`.
 */
export function parseConfig(raw: unknown, file?: string): Config {
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(result.error), file);
  const config = result.data;
  // File sources are relative to the configuration file, so a config works from any cwd.
  if (!file) return config;
  const resolved = <T extends { relation: Config['source']['relation'] }>(src: T): T =>
    src.relation.kind === 'file' && !isAbsolute(src.relation.path)
      ? { ...src, relation: { ...src.relation, path: resolve(dirname(file), src.relation.path) } }
      : src;
  const { feedback, marketingSpend } = config.source;
  return {
    ...config,
    source: {
      ...resolved(config.source),
      ...(feedback ? { feedback: resolved(feedback) } : {}),
      ...(marketingSpend ? { marketingSpend: resolved(marketingSpend) } : {}),
    },
  };
}

/** Loads and validates a `.json`, `.ts` or `.js` configuration file (default export). */
export async function loadConfig(file: string): Promise<Config> {
  const path = resolve(file);
  let raw: unknown;
  try {
    if (path.endsWith('.json')) {
      raw = JSON.parse(await readFile(path, 'utf8'));
    } else {
      const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
      raw = mod.default;
    }
  } catch (err) {
    throw new ConfigError([`cannot read ${file}: ${(err as Error).message}`], file);
  }
  const config = parseConfig(raw, path);
  const issues = await grammarIssues(config);
  if (issues.length > 0) throw new ConfigError(issues, file);
  return config;
}
