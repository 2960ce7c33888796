/**
 * A source column given as a SQL expression over the source's own columns, as semantic
 * layers allow (`amount: 'round(Quantity * UnitPrice, 2)'`). The expression is spliced into
 * the one statement that reads the source, on DuckDB and on Athena, so it must mean the same
 * on both: only the functions, operators and keywords below, which the two engines share
 * with the same meaning; no subquery, no statement, no comment. The Trino grammar check of
 * the whole expression comes on top (config/grammar.ts, when a config file is loaded).
 */

/** Functions with the same meaning on DuckDB and Trino (arguments as documented). */
export const PORTABLE_FUNCTIONS = [
  'abs',
  'ceil',
  'coalesce',
  'floor',
  'length',
  'lower',
  'lpad',
  'nullif',
  'replace',
  'round',
  'rpad',
  'starts_with',
  'strpos',
  'trim',
  'upper',
] as const;

const KEYWORDS = new Set([
  'and',
  'as',
  'between',
  'case',
  'cast',
  'else',
  'end',
  'false',
  'in',
  'is',
  'like',
  'not',
  'null',
  'or',
  'then',
  'true',
  'when',
]);

/** The types a CAST may name. */
const TYPES = new Set(['boolean', 'date', 'decimal', 'double', 'timestamp', 'varchar']);

/** Words that would make the expression more than an expression. */
const REFUSED = new Set([
  'select',
  'from',
  'where',
  'with',
  'union',
  'join',
  'group',
  'order',
  'having',
  'limit',
  'over',
  'insert',
  'update',
  'delete',
  'drop',
  'create',
  'alter',
  'call',
  'grant',
  'values',
  'table',
]);

type Token = { kind: 'word' | 'name' | 'string' | 'number' | 'op'; text: string };

function tokenize(sql: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    if (rest.startsWith('--') || rest.startsWith('/*')) return 'a comment is not allowed';
    if (rest.startsWith("'")) {
      // E'…', X'…', DATE '…': a prefixed or typed literal (DuckDB reads backslash escapes
      // in E'…'), never part of this subset.
      const before = tokens.at(-1);
      if (before?.kind === 'word' && !KEYWORDS.has(before.text.toLowerCase())) {
        return `${before.text} '…' is not allowed: a string literal stands alone`;
      }
      const m = /^'(?:[^']|'')*'/.exec(rest);
      if (!m) return 'a string literal is not closed';
      if (m[0].includes('\\')) return 'a backslash in a string literal is not allowed';
      tokens.push({ kind: 'string', text: m[0] });
      i += m[0].length;
      continue;
    }
    if (rest.startsWith('"')) {
      // A quoted column name, for headers such as "Order ID" or "Créé le".
      const m = /^"([^"\n\r]+)"/.exec(rest);
      if (!m?.[1]) return 'a quoted column name is not closed, or holds a quote';
      tokens.push({ kind: 'name', text: m[1] });
      i += m[0].length;
      continue;
    }
    const number = /^\d+(\.\d+)?/.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', text: number[0] });
      i += number[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (word) {
      tokens.push({ kind: 'word', text: word[0] });
      i += word[0].length;
      continue;
    }
    const op = /^(<>|!=|<=|>=|\|\||[-+*/%=<>(),])/.exec(rest);
    if (op) {
      tokens.push({ kind: 'op', text: op[0] });
      i += op[0].length;
      continue;
    }
    return `${JSON.stringify(rest[0])} is not allowed (parameters and statements are not)`;
  }
  return tokens;
}

/**
 * Checks an expression; returns the source columns it reads (as written), or why it is
 * refused.
 */
export function expressionColumns(sql: string): { columns: string[] } | { error: string } {
  const tokens = tokenize(sql);
  if (typeof tokens === 'string') return { error: tokens };
  if (tokens.length === 0) return { error: 'the expression is empty' };
  const columns: string[] = [];
  let depth = 0;
  let inCast = 0;
  for (const [i, t] of tokens.entries()) {
    const next = tokens[i + 1];
    if (t.kind === 'op') {
      if (t.text === '(') depth++;
      if (t.text === ')' && --depth < 0) return { error: 'a ")" has no "("' };
      if (t.text === '/') {
        return {
          error:
            'division is not allowed: the engines disagree on its type (7 / 2 is 3 on Athena and 3.5 on DuckDB; 1234 / 100.0 is 12.3 and 12.34); multiply instead (cents * 0.01)',
        };
      }
      continue;
    }
    if (t.kind === 'name') {
      if (!columns.includes(t.text)) columns.push(t.text);
      continue;
    }
    if (t.kind !== 'word') continue;
    const word = t.text.toLowerCase();
    const afterAs = tokens[i - 1]?.kind === 'word' && tokens[i - 1]?.text.toLowerCase() === 'as';
    if (REFUSED.has(word))
      return { error: `${t.text} is not allowed: one expression, no subquery` };
    if (next?.kind === 'op' && next.text === '(') {
      if (word === 'cast') {
        inCast++;
        continue;
      }
      if (TYPES.has(word) && afterAs) continue; // CAST(x AS DECIMAL(18, 2))
      if (!(PORTABLE_FUNCTIONS as readonly string[]).includes(word)) {
        return {
          error: `${t.text}() is not one of the functions both engines share: ${PORTABLE_FUNCTIONS.join(', ')}`,
        };
      }
      continue;
    }
    if (word === 'as') {
      if (inCast === 0) return { error: 'AS is for CAST only: the column is named by its key' };
      inCast--;
      if (!next || next.kind !== 'word' || !TYPES.has(next.text.toLowerCase())) {
        return { error: `CAST … AS takes one of ${[...TYPES].join(', ')}` };
      }
      const after = tokens[i + 2];
      if (next.text.toLowerCase() === 'decimal' && !(after?.kind === 'op' && after.text === '(')) {
        return { error: 'CAST … AS decimal needs its precision and scale: decimal(18, 2)' };
      }
      continue;
    }
    // A type's name is a type only in CAST(… AS type); elsewhere it names a column (`Date`).
    if (KEYWORDS.has(word) || (TYPES.has(word) && afterAs)) continue;
    if (!columns.some((c) => c.toLowerCase() === word)) columns.push(t.text);
  }
  if (depth !== 0) return { error: 'a "(" is not closed' };
  return { columns };
}

/**
 * Whether a word means something else to an expression (a keyword, a type, a refused word,
 * or a literal prefix such as E): a column so named must be written in double quotes.
 */
export function isReservedWord(word: string): boolean {
  const w = word.toLowerCase();
  return KEYWORDS.has(w) || REFUSED.has(w) || TYPES.has(w) || ['e', 'x', 'b'].includes(w);
}

/** Whether a mapping entry names a column (as opposed to being an expression). */
export function isColumnName(entry: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(entry);
}
