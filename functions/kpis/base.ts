import { randomUUID } from 'node:crypto';
import type { QueryEngine } from '../engines/query-engine.ts';
import { buildBaseQuery, type BaseSpec } from '../sql/base-query.ts';

/** A fresh name for a run's customer table: `kpi_run_` and 32 hex digits. */
export function runTableName(): string {
  return `kpi_run_${randomUUID().replaceAll('-', '')}`;
}

/** The statements that create and drop a run's customer table (see buildBaseQuery). */
export function customerTable(
  dialect: QueryEngine['dialect'],
  spec: Omit<BaseSpec, 'dialect'>,
  name = runTableName(),
): { name: string; create: string; drop: string } {
  return {
    name,
    create: dialect.createTable(name, buildBaseQuery({ ...spec, dialect })),
    drop: dialect.dropTable(name),
  };
}

/**
 * Creates the customer table, hands its name to `use`, and drops it whatever happens; a
 * failure to drop does not hide the run's own result or error.
 */
export async function withCustomerTable<T>(
  engine: QueryEngine,
  table: { name: string; create: string; drop: string },
  use: (name: string) => Promise<T>,
): Promise<T> {
  await engine.query(table.create);
  try {
    return await use(table.name);
  } finally {
    await engine.query(table.drop).catch(() => undefined);
  }
}
