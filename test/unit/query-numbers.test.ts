import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DuckDbEngine } from '../../functions/engines/duckdb.ts';
import {
  QueryError,
  queryNumbers,
  type QueryEngine,
} from '../../functions/engines/query-engine.ts';

/** Rows as Athena returns them: every value a string, NULL as null. */
function athenaLike(rows: Record<string, string | null>[]): QueryEngine {
  return {
    dialect: {} as QueryEngine['dialect'],
    relation: () => Promise.resolve(''),
    query: <T>() => Promise.resolve(rows as T[]),
    close: () => Promise.resolve(),
  };
}

describe('numeric results by column as typed arrays', () => {
  let engine: DuckDbEngine;
  beforeAll(async () => {
    engine = await DuckDbEngine.create();
  });
  afterAll(async () => {
    await engine.close();
  });

  test('DuckDB: many chunks, every numeric type, NULL as NaN, in the rows’ order', async () => {
    // 5,000 rows: more than two of DuckDB's 2,048-row chunks.
    const got = await engine.queryNumbers(`SELECT
        CAST(i AS INTEGER) AS i,
        CAST(i * 1000000000 AS BIGINT) AS big,
        CAST(i AS DOUBLE) / 8 AS d,
        CAST(i % 3 AS TINYINT) AS t,
        CASE WHEN i % 5 = 0 THEN NULL ELSE CAST(i AS INTEGER) END AS maybe
      FROM range(5000) r(i) ORDER BY i DESC`);
    expect(Object.keys(got)).toEqual(['i', 'big', 'd', 't', 'maybe']);
    for (const column of Object.values(got)) expect(column).toBeInstanceOf(Float64Array);
    expect(got.i?.length).toBe(5000);
    expect(Array.from(got.i?.slice(0, 3) ?? [])).toEqual([4999, 4998, 4997]);
    expect(got.big?.[0]).toBe(4_999_000_000_000);
    expect(got.d?.[1]).toBe(4998 / 8);
    expect(got.t?.[4999]).toBe(0);
    expect(got.maybe?.[4]).toBeNaN(); // 4995
    expect(got.maybe?.[3]).toBe(4996);
    expect(Array.from(got.maybe ?? []).filter(Number.isNaN)).toHaveLength(1000);
    // And the generic reader, from rows, agrees.
    const rows = await engine.query(`SELECT
        CAST(i AS INTEGER) AS i, CASE WHEN i % 5 = 0 THEN NULL ELSE CAST(i AS DOUBLE) / 8 END AS d
      FROM range(5000) r(i) ORDER BY i`);
    const viaRows = await queryNumbers(
      { ...athenaLike([]), query: <T>() => Promise.resolve(rows as T[]) },
      '',
    );
    const direct = await engine.queryNumbers(`SELECT
        CAST(i AS INTEGER) AS i, CASE WHEN i % 5 = 0 THEN NULL ELSE CAST(i AS DOUBLE) / 8 END AS d
      FROM range(5000) r(i) ORDER BY i`);
    expect(viaRows).toEqual(direct);
  });

  test('DuckDB: an empty result has its columns, and a text column is refused by name', async () => {
    const empty = await engine.queryNumbers('SELECT 1 AS a, CAST(2.5 AS DOUBLE) AS b WHERE false');
    expect(empty).toEqual({ a: new Float64Array(), b: new Float64Array() });
    await expect(engine.queryNumbers(`SELECT 1 AS a, 'x' AS label`)).rejects.toThrow(
      /column label is not numeric/,
    );
    await expect(engine.queryNumbers(`SELECT 1.5 AS money`)).rejects.toBeInstanceOf(QueryError);
  });

  test('Athena-like rows of strings: numbers, NULL as NaN, and text refused', async () => {
    const got = await queryNumbers(
      athenaLike([
        { x: '1', mx: '12.5' },
        { x: '2', mx: null },
        { x: '-3', mx: '1e-3' },
      ]),
      '',
    );
    expect(got).toEqual({
      x: Float64Array.from([1, 2, -3]),
      mx: Float64Array.from([12.5, Number.NaN, 0.001]),
    });
    await expect(queryNumbers(athenaLike([{ x: 'abc' }]), '')).rejects.toThrow(
      /column x is not numeric: abc/,
    );
  });
});
