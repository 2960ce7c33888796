/**
 * How many times a statement reads each relation when every WITH block is expanded at each
 * reference, as Trino plans it (Trino inlines a WITH block wherever it is named; it does not
 * materialize one that is named twice). Enough SQL for the statements this project writes:
 * one top-level WITH list, relations after FROM and JOIN (and commas in a FROM list),
 * subqueries, UNNEST and VALUES; a nested WITH is refused rather than miscounted.
 */
export type Reads = Map<string, number>;

type Token = { kind: 'word' | 'quoted' | 'punct' | 'number'; text: string };

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] ?? '';
    if (/\s/.test(ch)) {
      i++;
    } else if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end;
    } else if (ch === "'") {
      // A string literal, quotes doubled inside: it names no relation.
      let j = i + 1;
      for (;;) {
        const q = sql.indexOf("'", j);
        if (q < 0) throw new Error('unterminated string literal');
        if (sql[q + 1] === "'") j = q + 2;
        else {
          i = q + 1;
          break;
        }
      }
      tokens.push({ kind: 'punct', text: "''" });
    } else if (ch === '"') {
      const end = sql.indexOf('"', i + 1);
      if (end < 0) throw new Error('unterminated quoted identifier');
      tokens.push({ kind: 'quoted', text: sql.slice(i + 1, end).toLowerCase() });
      i = end + 1;
    } else if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i))?.[0] ?? ch;
      tokens.push({ kind: 'word', text: m.toLowerCase() });
      i += m.length;
    } else if (/[0-9]/.test(ch)) {
      const m = /^[0-9.eE]+/.exec(sql.slice(i))?.[0] ?? ch;
      tokens.push({ kind: 'number', text: m });
      i += m.length;
    } else {
      tokens.push({ kind: 'punct', text: ch });
      i++;
    }
  }
  return tokens;
}

const isName = (t: Token | undefined): boolean =>
  t !== undefined && (t.kind === 'quoted' || t.kind === 'word');

/** Index of the token after the parenthesis that closes the one at `open`. */
function closing(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]?.text;
    if (t === '(') depth++;
    else if (t === ')' && --depth === 0) return i + 1;
  }
  throw new Error('unbalanced parentheses');
}

/** Names read by a token range, each as often as it is named (WITH names not expanded). */
function namedRelations(tokens: Token[]): string[] {
  const names: string[] = [];
  const CLAUSE_END = new Set([
    'where',
    'group',
    'order',
    'having',
    'join',
    'cross',
    'left',
    'right',
    'inner',
    'full',
    'on',
    'union',
    'limit',
    'offset',
    'window',
    'using',
  ]);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t?.kind === 'word' && t.text === 'with' && i > 0 && tokens[i - 1]?.text === '(') {
      throw new Error('a nested WITH is not supported by this check');
    }
    if (t?.kind !== 'word' || (t.text !== 'from' && t.text !== 'join')) continue;
    // A relation list: name [AS alias] {, name [AS alias]}; subqueries are scanned anyway.
    let j = i + 1;
    for (;;) {
      const first = tokens[j];
      if (first?.text === 'lateral') j++;
      const at = tokens[j];
      if (
        at?.text === '(' ||
        (at?.kind === 'word' && (at.text === 'unnest' || at.text === 'values'))
      ) {
        break;
      }
      if (!isName(at)) break;
      const parts = [at?.text ?? ''];
      j++;
      while (tokens[j]?.text === '.' && isName(tokens[j + 1])) {
        parts.push(tokens[j + 1]?.text ?? '');
        j += 2;
      }
      names.push(parts.join('.'));
      // An alias, then maybe a comma and the next relation of the list.
      if (tokens[j]?.text === 'as') j++;
      if (isName(tokens[j]) && !CLAUSE_END.has(tokens[j]?.text ?? '')) j++;
      if (tokens[j]?.text !== ',') break;
      j++;
    }
  }
  return names;
}

/** The reads of one statement, WITH blocks expanded at every reference. */
export function relationReads(sql: string): Reads {
  let tokens = tokenize(sql);
  // CREATE TABLE name [WITH (...)] AS <query>: the query is what reads.
  if (tokens[0]?.text === 'create') {
    const as = tokens.findIndex(
      (t, i) =>
        t.text === 'as' &&
        (tokens[i + 1]?.text === 'select' || tokens[i + 1]?.text === 'with') &&
        i > 1,
    );
    if (as < 0) throw new Error('a CREATE statement without AS SELECT');
    tokens = tokens.slice(as + 1);
  }
  if (tokens[0]?.text === 'drop') return new Map();
  const blocks = new Map<string, Token[]>();
  let body = tokens;
  if (tokens[0]?.text === 'with') {
    let i = 1;
    for (;;) {
      const name = tokens[i];
      if (!isName(name) || tokens[i + 1]?.text !== 'as' || tokens[i + 2]?.text !== '(') {
        throw new Error(`a WITH block this check cannot read at token ${i}`);
      }
      const end = closing(tokens, i + 2);
      blocks.set(name?.text ?? '', tokens.slice(i + 3, end - 1));
      i = end;
      if (tokens[i]?.text !== ',') break;
      i++;
    }
    body = tokens.slice(i);
  }
  const reads: Reads = new Map();
  const expand = (range: Token[], depth: number): void => {
    if (depth > 50) throw new Error('WITH blocks nested too deep');
    for (const name of namedRelations(range)) {
      const block = blocks.get(name);
      if (block) expand(block, depth + 1);
      else reads.set(name, (reads.get(name) ?? 0) + 1);
    }
  };
  expand(body, 0);
  return reads;
}

/** The reads of a run's statements, added up. */
export function runReads(statements: readonly string[]): Reads {
  const total: Reads = new Map();
  for (const s of statements) {
    for (const [name, n] of relationReads(s)) total.set(name, (total.get(name) ?? 0) + n);
  }
  return total;
}
