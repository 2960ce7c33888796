import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { tmpdir } from 'node:os';
import { basename, join, relative, sep } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { echo } from '../echo.ts';
import { quoteName, stringLiteral } from '../sql/dialect.ts';
import { SourceError, type DeclaredType, type OrdersRelation, type Row } from './query-engine.ts';

/**
 * How DuckDB reads a file source: the files are listed and checked here, and the columns
 * the run uses are read with the types their contract declares, never with types DuckDB
 * guesses from a sample of the first rows (a guess that a later row contradicts rounds
 * cents away, cuts times to midnight or fails the run). A value that does not parse as its
 * declared type fails the one read of the source; `explain` then finds the first such
 * value and names its file, line (or Parquet row), column and value.
 */

/** The rows of a statement as JSON scalars. */
async function rowsOf(connection: DuckDBConnection, sql: string): Promise<Row[]> {
  return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Row[];
}

export type FileFormat = 'parquet' | 'csv';

/**
 * The type DuckDB's CSV reader reads a declared column as. A timestamp is read as text and
 * cast in SQL (`relationOf`): the reader's own TIMESTAMP drops an offset, and its
 * TIMESTAMPTZ turns a value it cannot parse into NULL (DuckDB 1.5) instead of failing.
 */
const READER_TYPE: Record<DeclaredType, string> = {
  text: 'VARCHAR',
  money: 'DECIMAL(18,2)',
  timestamp: 'VARCHAR',
  date: 'DATE',
  integer: 'BIGINT',
  decimal: 'DECIMAL(18,6)',
  'local-timestamp': 'VARCHAR',
};

/**
 * The timestamps a CSV column may hold: ISO 8601 dates, or dates and times, with an
 * optional `Z` or numeric offset. A zone name is not among them: DuckDB 1.5 carries a zone
 * name parsed in one value over to the zone-less values after it in the same batch.
 */
export const ISO_TIMESTAMP =
  '\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)? ?(Z|[+-]\\d{2}(:?\\d{2})?)?)?';

/** ISO 8601 local dates and times: ISO_TIMESTAMP without `Z` or an offset. */
export const ISO_LOCAL_TIMESTAMP =
  '\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?)?';

/** Whether a text value has one of the forms of ISO_TIMESTAMP (SQL), or ISO_LOCAL_TIMESTAMP. */
function isIsoTimestamp(column: string, local = false): string {
  return `regexp_full_match(${column}, ${stringLiteral(local ? ISO_LOCAL_TIMESTAMP : ISO_TIMESTAMP)})`;
}

/** A text column of local times as TIMESTAMP (no zone); another form fails the read. */
function localTimestampOf(column: string): string {
  return `CASE WHEN ${column} IS NULL THEN NULL
    WHEN ${isIsoTimestamp(column, true)} THEN CAST(${column} AS TIMESTAMP)
    ELSE error('Conversion Error: a value is not a local ISO 8601 date and time') END`;
}

/**
 * A text timestamp column as TIMESTAMPTZ: an offset is honoured, no offset means UTC (the
 * session's zone, see DuckDbEngine.create), and a value of another form fails the read.
 */
function timestampOf(column: string): string {
  return `CASE WHEN ${column} IS NULL THEN NULL
    WHEN ${isIsoTimestamp(column)} THEN CAST(${column} AS TIMESTAMPTZ)
    ELSE error('Conversion Error: a value is not an ISO 8601 timestamp') END`;
}

/** Characters DuckDB's file functions read as a glob pattern. */
const GLOB = /[*?[\]{}]/;

/** The format a file name says it holds: `.parquet`, `.csv` or `.csv.gz`, in any case. */
export function formatOfName(name: string): { format: FileFormat; gzip: boolean } | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.parquet')) return { format: 'parquet', gzip: false };
  if (lower.endsWith('.csv')) return { format: 'csv', gzip: false };
  if (lower.endsWith('.csv.gz')) return { format: 'csv', gzip: true };
  return undefined;
}

/** One file of a source: where the user has it, and the name DuckDB is given for it. */
interface SourceFile {
  readonly path: string;
  readonly read: string;
  readonly gzip: boolean;
}

/** A file source as read: its files (sorted), its format and the columns it declares. */
export interface FileSource {
  readonly label: string;
  readonly format: FileFormat;
  readonly files: readonly SourceFile[];
  /** Declared columns by the name the file spells them with. */
  readonly declared: ReadonlyMap<string, DeclaredType>;
  /** CSV: the header's column names, in order (every file has the same). */
  readonly header: readonly string[];
  /** CSV: how the files are written. */
  readonly csv: CsvDialect;
}

/** How a CSV file is written: its encoding and field separator. */
export interface CsvDialect {
  readonly encoding: 'utf-8' | 'latin-1';
  readonly delimiter: string;
}

/** Names the user's files are listed under in messages: relative to the source folder. */
function shown(source: FileSource, path: string): string {
  return source.files.length === 1 ? path : join(source.label, relative(source.label, path));
}

/**
 * Lists a source's files. A file must be a regular file; a folder is read whole (every
 * `.parquet`, `.csv` or `.csv.gz` file below it, any case of extension, leaving out names
 * starting with `.` or `_` as Spark and Hive write them), all of one format; another file in
 * it is refused, never skipped, so nothing is half-read.
 */
async function listFiles(
  source: Extract<OrdersRelation, { kind: 'file' }>,
): Promise<{ format: FileFormat; files: { path: string; gzip: boolean }[] }> {
  let info;
  try {
    info = await stat(source.path);
  } catch {
    throw new SourceError(`source "${source.path}" does not exist`);
  }
  if (info.isFile()) {
    const named = formatOfName(source.path);
    const format = source.format ?? named?.format;
    if (!format) {
      throw new SourceError(
        `source "${source.path}" is neither .parquet nor .csv (set its format)`,
      );
    }
    return { format, files: [{ path: source.path, gzip: named?.gzip ?? false }] };
  }
  if (!info.isDirectory()) {
    throw new SourceError(`source "${source.path}" is not a regular file or folder`);
  }
  const entries = await readdir(source.path, { recursive: true });
  const files: { path: string; format: FileFormat; gzip: boolean }[] = [];
  for (const entry of entries.map(String).sort()) {
    if (entry.split(sep).some((part) => part.startsWith('.') || part.startsWith('_'))) continue;
    const path = join(source.path, entry);
    const s = await stat(path);
    if (s.isDirectory()) continue;
    if (!s.isFile()) throw new SourceError(`source file "${path}" is not a regular file`);
    const named = formatOfName(entry);
    if (!named) {
      throw new SourceError(
        `source folder "${source.path}" holds "${entry}", which is neither .parquet nor .csv (move it out, or name the files to read)`,
      );
    }
    files.push({ path, ...named });
  }
  const first = files[0];
  if (!first) throw new SourceError(`source folder "${source.path}" has no .parquet or .csv file`);
  const other = files.find((f) => f.format !== first.format);
  if (other) {
    throw new SourceError(
      `source folder "${source.path}" mixes ${first.format} ("${relative(source.path, first.path)}") and ${other.format} ("${relative(source.path, other.path)}") files; keep one format`,
    );
  }
  if (source.format && source.format !== first.format) {
    throw new SourceError(
      `source folder "${source.path}" holds ${first.format} files, not ${source.format}`,
    );
  }
  return { format: first.format, files };
}

/**
 * The options every read of a CSV source passes: the canonical CSV layout, declared, with
 * nothing detected (DuckDB's sniffer guesses from a sample, and fails a whole file on a
 * ragged row in it); `columns` gives every column its type.
 */
function csvOptions(
  gzip: boolean,
  columns: readonly (readonly [string, string])[],
  dialect: CsvDialect,
): string {
  const list = columns.map(([name, type]) => `${stringLiteral(name)}: '${type}'`).join(', ');
  return `header = true, delim = ${stringLiteral(dialect.delimiter)}, quote = '"', escape = '"', encoding = '${dialect.encoding}', auto_detect = false, compression = '${gzip ? 'gzip' : 'none'}', columns = {${list}}`;
}

function fileList(files: readonly SourceFile[]): string {
  return `[${files.map((f) => stringLiteral(f.read)).join(', ')}]`;
}

/**
 * What DuckDB's CSV reader says of a line it cannot read, in the project's words: the
 * line (when it gives one) and why.
 */
export function readerFailure(message: string): { line?: number; why: string } {
  const line = /Line: (\d+)/.exec(message)?.[1];
  const fields = /Expected Number of Columns: (\d+) Found: (\d+)/i.exec(message);
  const why = fields
    ? `it has ${fields[2]} fields; the header has ${fields[1]}`
    : /invalid unicode|INVALID UNICODE/i.test(message)
      ? "it is not UTF-8 (save the file as UTF-8, or declare relation.encoding: 'latin-1')"
      : (message.split('\n')[0] ?? 'unknown error');
  return { ...(line ? { line: Number(line) } : {}), why };
}

/**
 * The header of one CSV file: its first record, split at the delimiter outside double
 * quotes, decoded as the file's encoding (a UTF-8 byte-order mark is dropped). An empty name
 * becomes `column<i>`.
 */
async function csvHeader(file: SourceFile, dialect: CsvDialect): Promise<string[]> {
  const input = createReadStream(file.path, { highWaterMark: 64 * 1024 });
  const stream = file.gzip ? input.pipe(createGunzip()) : input;
  const bytes: Buffer[] = [];
  let size = 0;
  let end = -1;
  let quoted = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i];
        if (byte === 0x22) quoted = !quoted;
        else if (byte === 0x0a && !quoted) {
          end = size + i;
          break;
        }
      }
      bytes.push(chunk);
      size += chunk.length;
      if (end >= 0 || size > 1024 * 1024) break;
    }
  } finally {
    input.destroy();
  }
  const all = Buffer.concat(bytes);
  const line = all.subarray(0, end >= 0 ? end : all.length);
  if (end < 0 && size > 1024 * 1024) throw new Error('its first line (the header) exceeds 1 MB');
  let text: string;
  try {
    text =
      dialect.encoding === 'latin-1'
        ? line.toString('latin1')
        : new TextDecoder('utf-8', { fatal: true }).decode(line);
  } catch {
    throw new Error('Line: 1 Invalid unicode');
  }
  text = text.replace(/^\uFEFF/, '').replace(/\r$/, '');
  if (text === '') throw new Error('it has no header line');
  const names: string[] = [];
  let field = '';
  let inQuotes = false;
  for (let i = 0; i <= text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') inQuotes = false;
      else field += ch ?? '';
    } else if (ch === '"') inQuotes = true;
    else if (ch === dialect.delimiter || ch === undefined) {
      names.push(field === '' ? `column${names.length}` : field);
      field = '';
    } else field += ch;
  }
  return names;
}

/** The column names and types of one Parquet file. */
async function parquetSchema(
  connection: DuckDBConnection,
  file: SourceFile,
): Promise<{ name: string; type: string }[]> {
  return (
    await rowsOf(connection, `DESCRIBE SELECT * FROM read_parquet(${stringLiteral(file.read)})`)
  ).map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
}

/**
 * Opens a file source: lists and checks its files (one schema, no duplicate column, every
 * declared column present) and gives each file a name DuckDB reads literally (a path with
 * glob characters is read through a link in a private folder, removed by `close`).
 */
export async function openFileSource(
  connection: DuckDBConnection,
  source: Extract<OrdersRelation, { kind: 'file' }>,
  declared: Readonly<Record<string, DeclaredType>>,
): Promise<{ source: FileSource; close: () => Promise<void> }> {
  const { format, files: listed } = await listFiles(source);
  const dialect: CsvDialect = {
    encoding: source.encoding ?? 'utf-8',
    delimiter: source.delimiter ?? ',',
  };
  let links: string | undefined;
  const files: SourceFile[] = [];
  for (const [i, f] of listed.entries()) {
    let read = f.path;
    if (GLOB.test(f.path)) {
      links ??= await mkdtemp(join(tmpdir(), 'kpi-source-'));
      read = join(links, `${i}-${basename(f.path).replace(GLOB, '_')}`);
      await symlink(f.path, read);
    }
    files.push({ path: f.path, read, gzip: f.gzip });
  }
  const close = async (): Promise<void> => {
    if (links) await rm(links, { recursive: true, force: true });
  };
  try {
    const label = source.path;
    const at = (f: SourceFile): string =>
      files.length === 1 ? `"${f.path}"` : `"${relative(label, f.path)}" of "${label}"`;
    let names: string[] = [];
    if (format === 'csv') {
      let first: string[] | undefined;
      for (const f of files) {
        let header: string[];
        try {
          header = await csvHeader(f, dialect);
        } catch (err) {
          const failed = readerFailure((err as Error).message);
          throw new SourceError(
            `source ${at(f)}${failed.line ? ` line ${failed.line}` : ''}: ${failed.why}`,
            { cause: err },
          );
        }
        const seen = new Set<string>();
        for (const name of header) {
          if (seen.has(name.toLowerCase())) {
            throw new SourceError(`source ${at(f)}: the header names column ${echo(name)} twice`);
          }
          seen.add(name.toLowerCase());
        }
        if (first && header.join('\u0000') !== first.join('\u0000')) {
          throw new SourceError(
            `source ${at(f)}: its header (${header.join(',')}) differs from "${relative(label, files[0]?.path ?? '')}" (${first.join(',')}); every file needs the same columns in the same order`,
          );
        }
        first ??= header;
      }
      names = first ?? [];
    } else {
      let first: string[] | undefined;
      for (const f of files) {
        let columns: { name: string; type: string }[];
        try {
          columns = await parquetSchema(connection, f);
        } catch (err) {
          throw new SourceError(
            `source ${at(f)} cannot be read: ${(err as Error).message.split('\n')[0] ?? ''}`,
            { cause: err },
          );
        }
        const schema = columns.map((c) => `${c.name} ${c.type}`);
        if (first && schema.join(', ') !== first.join(', ')) {
          throw new SourceError(
            `source ${at(f)}: its columns (${schema.join(', ')}) differ from "${relative(label, files[0]?.path ?? '')}" (${first.join(', ')})`,
          );
        }
        if (!first) names = columns.map((c) => c.name);
        first ??= schema;
      }
    }
    // Declared columns by the file's spelling; one it lacks is named by checkSource.
    const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
    const resolved = new Map<string, DeclaredType>();
    for (const [name, type] of Object.entries(declared)) {
      const actual = byLower.get(name.toLowerCase());
      if (actual !== undefined) resolved.set(actual, type);
    }
    return {
      source: { label, format, files, declared: resolved, header: names, csv: dialect },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The relation of a file source: CSV files read with the declared types (every other
 * column as text, none guessed), Parquet files with the types they store (checked by the
 * engine's checkSource). Gzipped and plain CSV files are read by one scan each.
 */
export function relationOf(source: FileSource): string {
  if (source.format === 'parquet') return `read_parquet(${fileList(source.files)})`;
  const plain = source.files.filter((f) => !f.gzip);
  const gzipped = source.files.filter((f) => f.gzip);
  const scans = [plain, gzipped]
    .filter((files) => files.length > 0)
    .map((files) => `SELECT * FROM ${csvScan(source, files)}`);
  const replaced = [...source.declared]
    .filter(([, type]) => type === 'timestamp' || type === 'local-timestamp')
    .map(
      ([name, type]) =>
        `${(type === 'timestamp' ? timestampOf : localTimestampOf)(quoteName(name))} AS ${quoteName(name)}`,
    );
  const from =
    scans.length === 1
      ? csvScan(source, plain.length ? plain : gzipped)
      : `(${scans.join(' UNION ALL ')})`;
  if (replaced.length === 0) return from;
  // A timestamp cast in SQL: an offset or zone is honoured, no zone means UTC (the session's
  // zone, see DuckDbEngine.create), and a value that is not a timestamp fails the read.
  return `(SELECT * REPLACE (${replaced.join(', ')}) FROM ${from})`;
}

/** One read_csv of files of one compression: declared columns with their reader types. */
function csvScan(source: FileSource, files: readonly SourceFile[], extra = ''): string {
  const columns = source.header.map((name) => {
    const type = source.declared.get(name);
    return [name, type ? READER_TYPE[type] : 'VARCHAR'] as const;
  });
  return `read_csv(${fileList(files)}, ${csvOptions(files[0]?.gzip ?? false, columns, source.csv)}${extra})`;
}

/** The user's name of a file DuckDB was given. */
function userPath(source: FileSource, read: string): string {
  return shown(source, source.files.find((f) => f.read === read)?.path ?? read);
}

/**
 * After a read of the source failed: the first value that does not parse as its declared
 * type (or the first line that cannot be read), as a SourceError naming the file, the line
 * (1-based, the header is line 1) or Parquet row, the column and a short echo of the value.
 * Reads the source again, which only a failed run pays. Null when nothing is found.
 */
export async function explain(
  connection: DuckDBConnection,
  source: FileSource,
): Promise<SourceError | null> {
  if (source.format === 'csv') {
    for (const f of source.files) {
      const candidates = [await rejectedIn(connection, source, f)];
      for (const [name, type] of source.declared) {
        // One after another: each sets the engine's threads. A line the reader refuses
        // fails this scan too; rejectedIn has named it.
        if (type === 'timestamp' || type === 'local-timestamp')
          candidates.push(
            await badTimestampIn(
              connection,
              f,
              source.header,
              name,
              source.csv,
              type === 'local-timestamp',
            ).catch(() => null),
          );
      }
      const found = candidates.filter((x) => x !== null).sort((x, y) => x.line - y.line)[0];
      if (found) {
        const where = `source "${shown(source, f.path)}" line ${found.line}`;
        return new SourceError(
          found.column === undefined || found.value === undefined
            ? `${where}: ${found.why}`
            : `${where}: column ${found.column} holds ${echo(found.value)}, not ${WANTED[source.declared.get(found.column) ?? 'text']}`,
        );
      }
    }
    return null;
  }
  for (const [name, type] of source.declared) {
    const bad =
      type === 'money'
        ? `TRY_CAST(${quoteName(name)} AS DECIMAL(18, 2)) IS NULL`
        : type === 'timestamp' || type === 'local-timestamp'
          ? `TRY_CAST(${quoteName(name)} AS TIMESTAMP) IS NULL`
          : type === 'date'
            ? `TRY_CAST(${quoteName(name)} AS DATE) IS NULL`
            : type === 'integer'
              ? `TRY_CAST(${quoteName(name)} AS BIGINT) IS NULL`
              : type === 'decimal'
                ? `TRY_CAST(${quoteName(name)} AS DECIMAL(18, 6)) IS NULL`
                : 'false';
    const [row] = await rowsOf(
      connection,
      `SELECT filename, file_row_number, CAST(${quoteName(name)} AS VARCHAR) AS v
       FROM read_parquet(${fileList(source.files)}, filename = true, file_row_number = true)
       WHERE ${quoteName(name)} IS NOT NULL AND ${bad}
       ORDER BY filename, file_row_number LIMIT 1`,
    );
    if (row) {
      return new SourceError(
        `source "${userPath(source, String(row.filename))}" row ${Number(row.file_row_number) + 1}: column ${name} holds ${echo(String(row.v))}, not ${WANTED[type]}`,
      );
    }
  }
  return null;
}

interface Found {
  readonly line: number;
  readonly column?: string;
  readonly value?: string;
  readonly why: string;
}

/**
 * The first line of a CSV file DuckDB's reader refuses (a value its declared type does not
 * parse, a row with the wrong number of fields, bytes that are not UTF-8), from DuckDB's
 * table of rejected lines.
 */
async function rejectedIn(
  connection: DuckDBConnection,
  source: FileSource,
  f: SourceFile,
): Promise<Found | null> {
  const id = `kpi_rejects_${Math.random().toString(16).slice(2, 10)}`;
  try {
    await connection.run(
      // Every column counted, so that the reader converts (and checks) each.
      `SELECT ${[...source.declared.keys()].map((c) => `count(${quoteName(c)})`).join(', ') || 'count(*)'} FROM ${csvScan(source, [f], `, store_rejects = true, rejects_table = '${id}', rejects_scan = '${id}_scans'`)}`,
    );
    const [row] = await rowsOf(
      connection,
      `SELECT line, column_name, error_type, error_message FROM ${id} ORDER BY line LIMIT 1`,
    );
    if (!row) return null;
    const message = String(row.error_message ?? '');
    const value = /Could not convert string "(.*)" to '/.exec(message)?.[1];
    return {
      line: Number(row.line),
      why: readerFailure(`${message} ${String(row.error_type)}`).why,
      ...(row.error_type === 'CAST' && row.column_name !== null && value !== undefined
        ? { column: String(row.column_name), value }
        : {}),
    };
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${id}; DROP TABLE IF EXISTS ${id}_scans`);
  }
}

/** The first value of a timestamp column of a CSV file that is not a timestamp, with its line. */
async function badTimestampIn(
  connection: DuckDBConnection,
  f: SourceFile,
  header: readonly string[],
  column: string,
  dialect: CsvDialect,
  local = false,
): Promise<Found | null> {
  // One thread, so that the rows are numbered in the file's order.
  const [{ t: threads } = {}] = await rowsOf(connection, `SELECT current_setting('threads') AS t`);
  await connection.run('SET threads = 1');
  try {
    const [row] = await rowsOf(
      connection,
      `SELECT r, v FROM (
         SELECT row_number() OVER () AS r, ${quoteName(column)} AS v
         FROM read_csv(${stringLiteral(f.read)}, ${csvOptions(
           f.gzip,
           header.map((name) => [name, 'VARCHAR'] as const),
           dialect,
         )})
       ) WHERE v IS NOT NULL
         AND (NOT ${isIsoTimestamp('v', local)} OR TRY_CAST(v AS ${local ? 'TIMESTAMP' : 'TIMESTAMPTZ'}) IS NULL)
       ORDER BY r LIMIT 1`,
    );
    if (!row) return null;
    const value = String(row.v);
    return {
      line: await lineOfRecord(f, Number(row.r)),
      column,
      value,
      why: `column ${column} holds ${echo(value)}`,
    };
  } finally {
    await connection.run(`SET threads = ${Number(threads) || 1}`);
  }
}

/**
 * The line (1-based) on which record `n` of a CSV file starts, the header being record 0:
 * lines and records differ where a quoted field holds a line break.
 */
async function lineOfRecord(f: SourceFile, n: number): Promise<number> {
  const input = createReadStream(f.path);
  const stream = f.gzip ? input.pipe(createGunzip()) : input;
  let line = 1;
  let record = 0;
  let quoted = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (const byte of chunk) {
        if (byte === 0x22) quoted = !quoted;
        else if (byte === 0x0a) {
          line++;
          if (!quoted && ++record === n) return line;
        }
      }
    }
    return line;
  } finally {
    input.destroy();
  }
}

/** What a declared type asks for, in a message. */
const WANTED: Record<DeclaredType, string> = {
  text: 'text',
  money: 'an amount with at most 16 digits before the decimal point (such as 1234.50)',
  timestamp: 'a timestamp (ISO 8601, such as 2026-11-23T07:00:00Z or 2026-11-23 07:00:00)',
  date: 'a date (YYYY-MM-DD)',
  integer: 'a whole number',
  'local-timestamp':
    'a local date and time without an offset (ISO 8601, such as 2026-11-23 07:00:00; the zone is source.timestamps.timeZone)',
  decimal: 'a decimal number with at most 12 digits before the point and 6 after',
};
