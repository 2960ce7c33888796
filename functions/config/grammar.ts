import type { Config } from './schema.ts';
import { isColumnName } from '../sql/expression.ts';

/**
 * The Trino (Athena engine v3) grammar's verdict on each column expression of the orders
 * source, on top of expression.ts's portability rules: one issue per expression Athena
 * could not parse. Run where a config file is loaded (the CLI, `cdk synth`); the deployed
 * function gets a config that passed it, and does not bundle the parser.
 */
export async function grammarIssues(config: Config): Promise<string[]> {
  const expressions = Object.entries(config.source.columns).filter(
    (e): e is [string, string] => e[1] !== null && !isColumnName(e[1]),
  );
  if (expressions.length === 0) return [];
  const { TrinoSQL } = await import('dt-sql-parser');
  const trino = new TrinoSQL();
  return expressions.flatMap(([key, sql]) => {
    const [first] = trino.validate(`SELECT ${sql} AS v FROM t`);
    return first
      ? [
          `source.columns.${key}: expected an expression Athena parses: ${first.message}; received ${JSON.stringify(sql)}`,
        ]
      : [];
  });
}
