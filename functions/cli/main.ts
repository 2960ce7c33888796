import { randomUUID } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar } from 'cli-progress';
import { ConfigError, loadConfig, parseConfig } from '../config/load.ts';
import { echo } from '../echo.ts';
import {
  DEFAULT_ACTIVE_WINDOW_DAYS,
  MAX_PERIOD_DAYS,
  athenaSource,
  type Config,
  type ReportConfig,
  reportFunctionName,
} from '../config/schema.ts';
import { AthenaClient } from '@aws-sdk/client-athena';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { AthenaEngine } from '../engines/athena.ts';
import { DuckDbEngine } from '../engines/duckdb.ts';
import { PayloadError, validatePayload, type RunResult } from '../handlers/run.ts';
import { QueryError, SourceError, type QueryEngine } from '../engines/query-engine.ts';
import {
  AT_RISK_FILE,
  OUTPUT_FORMATS,
  REPORT_FILE,
  renderOutputs,
  reportJson,
  writeOutputs,
  writesFullReport,
  type OutputFormat,
} from '../delivery/files.ts';
import {
  assertTimeZone,
  daysBetween,
  nextPeriod,
  parsePeriod,
  PeriodError,
  type Period,
} from '../periods/period.ts';
import type { AtRiskCustomer } from '../kpis/beyond.ts';
import { planRun, runFullReport, statementsOf, type RunRequest } from '../pipeline.ts';
import type { Report } from '../report/report.ts';
import { generateSample, sampleIsCurrent } from '../sample/generate.ts';
import { configModule, proposedConfig, proposeSource } from './init.ts';

/** Where the CLI writes and reads; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether standard error is a terminal (progress bar). */
  readonly interactive?: boolean;
  readonly cwd?: string;
}

/** Bad input from the user: a flag, period, time zone, source or config. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The sample shop's path, relative to the project root. */
export const SAMPLE_PATH = '.cache/sample/orders.parquet';
/** Its survey answers and marketing spend, for NPS, CSAT and CAC. */
export const SAMPLE_EXTRAS = {
  feedback: '.cache/sample/feedback.parquet',
  marketingSpend: '.cache/sample/marketing_spend.parquet',
} as const;
/** The sample data ends here; the demo reports the last complete week before it. */
export const SAMPLE_END = new Date('2026-11-23T00:00:00Z');

/** What a flag is for, shown by `kpi <command> --help`. */
interface FlagHelp {
  readonly value?: string;
  readonly text: string;
}

const FLAG_HELP: Record<string, FlagHelp> = {
  config: { value: 'FILE', text: 'the configuration (default: ./kpi.config.ts when it exists)' },
  report: { value: 'ID', text: 'a report of the configuration (default: the first)' },
  source: {
    value: 'PATH',
    text: 'orders file or folder (Parquet or CSV); with --config it keeps the configured columns',
  },
  period: {
    value: 'LABEL',
    text: '2026-W47, 2026-11, 2026-Q4, 2026 or 2026-11-01..2026-11-15 (default: the last complete one)',
  },
  timezone: { value: 'TZ', text: "an IANA zone for period boundaries (default: the report's)" },
  format: { value: 'F', text: 'json, html, text, eml or all (default: json)' },
  out: { value: 'DIR', text: 'write the files here (default: JSON on stdout; files to out/)' },
  now: { value: 'ISO', text: 'pretend it is this date or instant (default: now)' },
  from: { value: 'LABEL', text: 'the first period' },
  to: { value: 'LABEL', text: 'the last period' },
  'active-window-days': {
    value: 'N',
    text: "days a customer stays active (default: the report's)",
  },
  breakdowns: {
    value: 'D,E',
    text: "break the KPIs down by these of source.dimensions, or none (default: the report's)",
  },
  'mail-from': {
    value: 'ADDR',
    text: 'the digest.eml From header (default: kpi-digest@localhost)',
  },
  'mail-to': { value: 'A,B', text: 'the digest.eml To header (default: me@localhost)' },
  engine: {
    value: 'E',
    text: 'duckdb (local files) or athena (your AWS credentials) (default: duckdb)',
  },
  workgroup: { value: 'W', text: "Athena work group (default: the config's aws.athena)" },
  database: { value: 'D', text: "Athena database (default: the config's)" },
  table: { value: 'DB.T', text: "Athena orders table (default: the config's)" },
  region: { value: 'R', text: "AWS region (default: your AWS configuration's)" },
  recipients: {
    value: 'A,B',
    text: "send to these instead of the report's list (allowed domains only)",
  },
  'dry-run': { text: 'archive only, send nothing' },
  'kpis-only': { text: 'skip cohorts, RFM, the at-risk list and the lifetime model (faster)' },
  'print-sql': {
    text: "print every statement the run would send, each ended by a line ';', and send none",
  },
  force: {
    text: 'invoke: operators only, send again although this audience has the period; init: replace the file',
  },
  function: {
    value: 'NAME',
    text: "the deployed function (default: from the config's stack name)",
  },
  json: { text: 'write kpi.config.json instead of kpi.config.ts' },
  help: { text: 'this help' },
};

const RUN_FLAGS = [
  'config',
  'report',
  'source',
  'period',
  'timezone',
  'format',
  'out',
  'now',
  'active-window-days',
  'breakdowns',
  'kpis-only',
  'mail-from',
  'mail-to',
  'engine',
  'workgroup',
  'database',
  'table',
  'region',
  'print-sql',
] as const;

/** Each command, what it does, and the only flags it takes. */
const COMMANDS: Record<string, { readonly about: string; readonly flags: readonly string[] }> = {
  run: { about: 'Compute one report', flags: RUN_FLAGS },
  backfill: {
    about: 'One report per period, --from to --to, into out/backfill/<report>/<period>/ (DuckDB)',
    flags: [
      'config',
      'report',
      'source',
      'from',
      'to',
      'timezone',
      'format',
      'out',
      'active-window-days',
      'breakdowns',
      'kpis-only',
      'mail-from',
      'mail-to',
    ],
  },
  invoke: {
    about: 'Run the deployed report function for any period',
    flags: [
      'config',
      'report',
      'period',
      'recipients',
      'dry-run',
      'format',
      'function',
      'region',
      'force',
    ],
  },
  init: {
    about: 'Read an export (--source) and write a commented kpi.config.ts proposing how to read it',
    flags: ['source', 'json', 'force'],
  },
  demo: {
    about: 'Generate the sample shop (if missing) and write out/ for its last complete week',
    flags: ['config', 'now', 'out', 'mail-from', 'mail-to'],
  },
};

/** Commands that run as printed on a clone after `npm start` (the README lists the same). */
export const EXAMPLES = [
  'run --period 2026-W47',
  'run --report monthly --period 2026-10 --format all --out out/monthly',
  'run --source .cache/sample/orders.parquet --period 2026-11-01..2026-11-15 --timezone America/New_York',
  'backfill --from 2026-W44 --to 2026-W47 --kpis-only',
  'run --report monthly --period 2026-10 --breakdowns channel --kpis-only',
  'run --engine athena --period 2026-W47 --print-sql',
  'init --source test/data/online-retail/invoices-raw.csv --json',
  'demo',
];

const USAGE = `Usage: kpi <command> [options]     (kpi <command> --help: that command's options)

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.about}`)
  .join('\n')}
  help       This text

Examples (with npm: npm run kpi -- <command> ...):
${EXAMPLES.map((e) => `  kpi ${e}`).join('\n')}

Periods: 2026-W47, 2026-11, 2026-Q4, 2026, 2026-11-01..2026-11-15.
Exit codes: 0 done, 1 the query failed, 2 bad input.`;

/** `kpi <command> --help`: that command's flags only, with their defaults. */
function commandUsage(name: string): string {
  const c = COMMANDS[name];
  if (!c) return USAGE;
  const rows = [...c.flags, 'help'].map((f) => {
    const h = FLAG_HELP[f] ?? { text: '' };
    return `  --${f}${h.value ? ` ${h.value}` : ''}`.padEnd(30) + ` ${h.text}`;
  });
  return `Usage: kpi ${name} [options]\n\n${c.about}.\n\nOptions:\n${rows.join('\n')}`;
}

const options = {
  config: { type: 'string' },
  report: { type: 'string' },
  source: { type: 'string' },
  period: { type: 'string' },
  timezone: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  now: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'active-window-days': { type: 'string' },
  breakdowns: { type: 'string' },
  'mail-from': { type: 'string' },
  'mail-to': { type: 'string' },
  engine: { type: 'string' },
  workgroup: { type: 'string' },
  database: { type: 'string' },
  table: { type: 'string' },
  region: { type: 'string' },
  recipients: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'kpis-only': { type: 'boolean' },
  'print-sql': { type: 'boolean' },
  force: { type: 'boolean' },
  function: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<
  typeof parseArgs<{ options: typeof options; allowPositionals: true }>
>['values'];

function parseFlags(argv: readonly string[]): { command: string | undefined; flags: Flags } {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 1) {
      throw new UsageError(`unexpected argument ${echo(positionals[1] ?? '')}`);
    }
    // An empty value is a mistake (an unset shell variable), never a request for the default.
    for (const [name, value] of Object.entries(values)) {
      if (typeof value === 'string' && value.trim() === '') {
        throw new UsageError(`--${name} needs a value; received ${echo(value)}`);
      }
    }
    return { command: positionals[0], flags: values };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
}

/** An ISO-8601 date, or a date and time with its offset (a time without one is ambiguous). */
const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

function parseNow(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (!INSTANT.test(text) || Number.isNaN(d.getTime())) {
    throw new UsageError(
      `--now ${echo(text)} is not an ISO-8601 date or instant (such as 2026-11-23 or 2026-11-23T07:00:00Z)`,
    );
  }
  return d;
}

/**
 * The folder `--out` names (or the default), resolved against the working folder: it must
 * be a folder, or not exist yet (it is created). Checked before the run, not after it.
 */
function outFolder(ctx: { readonly cwd: string }, flags: Flags, fallback: string): string {
  const dir = resolve(ctx.cwd, flags.out ?? fallback);
  let info;
  try {
    info = statSync(dir);
  } catch {
    return dir;
  }
  if (!info.isDirectory()) {
    throw new UsageError(`--out ${echo(flags.out ?? fallback)} is a file; name a folder`);
  }
  return dir;
}

function parseFormat(text: string | undefined): OutputFormat {
  const format = text ?? 'json';
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format ${echo(format)} is not one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  return format as OutputFormat;
}

/** The configuration and report a run uses: a config file, or the defaults of docs/kpis.md. */
async function resolveConfig(
  flags: Flags,
  cwd: string,
  periodKind: Period['kind'] | undefined,
): Promise<{ config: Config; report: ReportConfig }> {
  let config: Config;
  // The project's kpi.config.ts when there is one and no --source says otherwise.
  const configFile =
    flags.config ??
    (!flags.source && existsSync(resolve(cwd, 'kpi.config.ts')) ? 'kpi.config.ts' : undefined);
  if (configFile) {
    config = await loadConfig(resolve(cwd, configFile));
  } else {
    if (!flags.source) {
      throw new UsageError('give --source FILE, or --config FILE (there is no kpi.config.ts here)');
    }
    const kind = periodKind === undefined || periodKind === 'custom' ? 'week' : periodKind;
    config = parseConfig({
      source: { relation: { kind: 'file', path: resolve(cwd, flags.source) } },
      reports: [
        {
          id: 'adhoc',
          name: 'KPI report',
          period: kind,
          // A bare file and a period are enough: the window grows to fit longer periods.
          activeWindowDays: Math.max(DEFAULT_ACTIVE_WINDOW_DAYS, MAX_PERIOD_DAYS[kind]),
        },
      ],
    });
  }
  if (flags.source && configFile) {
    // --source replaces the configured file, and keeps how the config reads it: the column
    // mapping, types, times, grain, encoding and delimiter.
    const relation = config.source.relation;
    const reading =
      relation.kind === 'file'
        ? {
            ...(relation.format ? { format: relation.format } : {}),
            ...(relation.encoding ? { encoding: relation.encoding } : {}),
            ...(relation.delimiter ? { delimiter: relation.delimiter } : {}),
          }
        : {};
    config = parseConfig({
      ...config,
      source: {
        ...config.source,
        relation: { ...reading, kind: 'file', path: resolve(cwd, flags.source) },
      },
    });
  }
  const report = flags.report
    ? config.reports.find((r) => r.id === flags.report)
    : config.reports[0];
  if (!report) {
    throw new UsageError(
      `--report ${echo(flags.report ?? '')} is not in the configuration (reports: ${config.reports.map((r) => r.id).join(', ')})`,
    );
  }
  let out = report;
  if (flags.timezone) {
    try {
      assertTimeZone(flags.timezone);
    } catch (err) {
      throw new UsageError(`--timezone: ${(err as Error).message}`);
    }
    out = { ...out, timeZone: flags.timezone };
  }
  const windowText = flags['active-window-days'];
  if (windowText !== undefined) {
    const n = Number(windowText);
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError(
        `--active-window-days ${echo(windowText)} is not a positive whole number`,
      );
    }
    out = { ...out, activeWindowDays: n };
  }
  out = withBreakdowns(out, config, flags.breakdowns);
  return { config, report: out };
}

/** `--breakdowns D,E` (or `none`) in place of the report's; each must be a dimension. */
function withBreakdowns(report: ReportConfig, config: Config, flag: string | undefined) {
  if (flag === undefined) return report;
  const names = flag === 'none' ? [] : flag.split(',').map((d) => d.trim());
  const known = Object.keys(config.source.dimensions);
  const unknown = names.filter((d) => !known.includes(d));
  if (unknown.length > 0 || names.length > 3 || new Set(names).size !== names.length) {
    throw new UsageError(
      `--breakdowns ${echo(flag)}: expected up to 3 different names of source.dimensions (${known.join(', ') || 'none configured'}), or none`,
    );
  }
  return { ...report, breakdowns: names };
}

function periodFlag(label: string | undefined, flag: string): Period | undefined {
  if (label === undefined) return undefined;
  try {
    return parsePeriod(label);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
}

interface RunContext {
  readonly io: CliIo;
  /** DuckDB, created on first use and closed by `main`. */
  readonly engine: () => Promise<QueryEngine>;
  readonly cwd: string;
}

/**
 * Where a run's result goes: the JSON report alone on stdout (`--format json`, no `--out`),
 * or the requested files under `--out` (default out/), each path said on stderr.
 */
/**
 * Renders a run into `dir`: the formats asked for, at-risk.csv and report.html (the full
 * report), which the digest links.
 */
async function writeRun(
  dir: string,
  { report: result, atRiskList }: { report: Report; atRiskList: AtRiskCustomer[] },
  format: OutputFormat,
  flags: Flags,
  headline: ReportConfig['headline'],
): Promise<string[]> {
  const files = await renderOutputs(
    result,
    format,
    envelope(flags),
    // Relative: the digest, the list and the full report are written side by side, wherever
    // they are moved. Without the full report beside it, the digest carries the details.
    {
      headline,
      atRiskLink: AT_RISK_FILE,
      ...(writesFullReport(format) ? { reportLink: REPORT_FILE } : {}),
    },
    atRiskList,
  );
  return writeOutputs(dir, files);
}

async function emitRun(
  run: { report: Report; atRiskList: AtRiskCustomer[] },
  report: ReportConfig,
  format: OutputFormat,
  flags: Flags,
  ctx: RunContext,
): Promise<void> {
  if (format === 'json' && !flags.out) {
    ctx.io.stdout(reportJson(run.report));
    return;
  }
  const outDir = outFolder(ctx, flags, 'out');
  const written = await writeRun(outDir, run, format, flags, report.headline);
  for (const path of written) ctx.io.stderr(`kpi: wrote ${path}\n`);
}

/** The project's config for the AWS commands: --config, or kpi.config.ts here. */
async function projectConfig(flags: Flags, cwd: string): Promise<Config> {
  const file = resolve(cwd, flags.config ?? 'kpi.config.ts');
  if (!existsSync(file)) throw new UsageError(`no configuration at ${file} (give --config)`);
  return loadConfig(file);
}

/** Athena with the analyst's own AWS credentials, on the configured or given work group. */
async function athenaRun(flags: Flags, ctx: RunContext): Promise<void> {
  const period = periodFlag(flags.period, 'period');
  const format = parseFormat(flags.format);
  const config = await projectConfig(flags, ctx.cwd);
  const configured = flags.report
    ? config.reports.find((r) => r.id === flags.report)
    : config.reports[0];
  if (!configured)
    throw new UsageError(`--report ${echo(flags.report ?? '')} is not in the configuration`);
  const report = withBreakdowns(configured, config, flags.breakdowns);
  const workGroup = flags.workgroup ?? config.aws?.athena.workGroup;
  if (!workGroup) throw new UsageError('--workgroup is required (or aws.athena in the config)');
  const table = flags.table ?? (config.aws ? athenaSource(config).relation : undefined);
  if (!table)
    throw new UsageError('--table DATABASE.TABLE is required (or aws.athena in the config)');
  const relation = typeof table === 'string' ? { kind: 'table' as const, table } : table;
  const engine = new AthenaEngine({
    client: new AthenaClient(flags.region ? { region: flags.region } : {}),
    workGroup,
    database: flags.database ?? config.aws?.athena.database,
    maxWaitMs: (config.aws?.athena.queryTimeoutSeconds ?? 600) * 1000,
    s3: new S3Client(flags.region ? { region: flags.region } : {}),
  });
  // Athena reads tables only: an optional source kept in a local file stays out of this run.
  const base = config.aws ? athenaSource(config) : config.source;
  const { feedback, marketingSpend, ...orders } = base;
  const source = {
    ...orders,
    relation,
    ...(feedback?.relation.kind === 'table' ? { feedback } : {}),
    ...(marketingSpend?.relation.kind === 'table' ? { marketingSpend } : {}),
  };
  const request: RunRequest = { report, source, period: period?.label, now: parseNow(flags.now) };
  if (flags['print-sql']) return printSql(request, engine, flags, ctx);
  ctx.io.stderr(
    `kpi: running ${report.id} ${period?.label ?? '(last complete period)'} on Athena work group ${workGroup}\n`,
  );
  const result = await runFullReport(request, { engine }, !flags['kpis-only']);
  await emitRun(result, report, format, flags, ctx);
}

/**
 * `--print-sql`: every statement of the run in the order it would send them, each followed
 * by a line holding only `;`. Nothing is sent; Athena needs no credentials for it.
 */
async function printSql(
  request: RunRequest,
  engine: Pick<QueryEngine, 'dialect' | 'relation'>,
  flags: Flags,
  ctx: RunContext,
): Promise<void> {
  const plan = await planRun(request, engine, {
    now: request.now ?? new Date(),
    beyond: !flags['kpis-only'],
  });
  for (const sql of statementsOf(plan)) ctx.io.stdout(`${sql}\n;\n`);
}

/** Invokes the deployed function; the payload is checked here first, as the function would. */
async function commandInvoke(flags: Flags, ctx: RunContext): Promise<void> {
  const config = await projectConfig(flags, ctx.cwd);
  const payload = {
    report: flags.report ?? config.reports[0]?.id ?? '',
    ...(flags.period ? { period: flags.period } : {}),
    ...(flags.recipients
      ? {
          recipients: flags.recipients
            .split(',')
            .map((r) => r.trim())
            .filter((r) => r !== ''),
        }
      : {}),
    ...(flags['dry-run'] ? { dryRun: true } : {}),
    ...(flags.force ? { force: true, requestId: randomUUID() } : {}),
    ...(flags.format ? { format: parseFormat(flags.format) } : {}),
  };
  try {
    validatePayload(payload, config, new Date());
  } catch (err) {
    if (err instanceof PayloadError) throw new UsageError(err.message);
    throw err;
  }
  const fn = flags.function ?? reportFunctionName(config.aws?.stackName ?? 'KpiDigest');
  if (flags.force) ctx.io.stderr(`kpi: --force: sending again even if already sent\n`);
  ctx.io.stderr(`kpi: invoking ${fn} with ${JSON.stringify(payload)}\n`);
  const client = new LambdaClient(flags.region ? { region: flags.region } : {});
  const out = await client.send(
    new InvokeCommand({
      FunctionName: fn,
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    }),
  );
  const text = out.Payload ? new TextDecoder().decode(out.Payload) : '';
  if (out.FunctionError) {
    const error = (JSON.parse(text || '{}') as { errorMessage?: string }).errorMessage;
    throw new QueryError(`${fn} failed: ${error ?? out.FunctionError}`);
  }
  const result = JSON.parse(text) as RunResult;
  ctx.io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  ctx.io.stderr(
    `kpi: ${result.report} ${result.period}: ${result.sentTo.length > 0 ? `sent to ${result.sentTo.join(', ')}` : 'not sent'}${result.fresh ? '' : ' (stale data)'}\n`,
  );
  for (const where of result.archived) ctx.io.stderr(`kpi: archived ${where}\n`);
}

async function commandRun(flags: Flags, ctx: RunContext): Promise<void> {
  const engineName = flags.engine ?? 'duckdb';
  // Each engine's own flags; one for the other is refused, never ignored.
  const foreign = (
    engineName === 'athena'
      ? (['source', 'timezone', 'active-window-days'] as const)
      : (['workgroup', 'database', 'table', 'region'] as const)
  ).filter((f) => flags[f] !== undefined);
  if (foreign.length > 0) {
    throw new UsageError(
      `${foreign.map((f) => `--${f}`).join(', ')} ${foreign.length === 1 ? 'does' : 'do'} not apply to --engine ${engineName}`,
    );
  }
  if (engineName === 'athena') return athenaRun(flags, ctx);
  if (engineName !== 'duckdb')
    throw new UsageError(`--engine ${echo(engineName)} is not duckdb or athena`);
  const period = periodFlag(flags.period, 'period');
  const format = parseFormat(flags.format);
  if (flags.out !== undefined || format !== 'json') outFolder(ctx, flags, 'out');
  const { config, report } = await resolveConfig(flags, ctx.cwd, period?.kind);
  const request: RunRequest = {
    report,
    source: config.source,
    period: period?.label,
    now: parseNow(flags.now),
  };
  if (flags['print-sql']) return printSql(request, await ctx.engine(), flags, ctx);
  ctx.io.stderr(`kpi: running ${report.id} ${period?.label ?? '(last complete period)'}\n`);
  const result = await runFullReport(request, { engine: await ctx.engine() }, !flags['kpis-only']);
  await emitRun(result, report, format, flags, ctx);
}

function envelope(flags: Flags): { from: string; to: string[] } {
  return {
    from: flags['mail-from'] ?? 'KPI digest <kpi-digest@localhost>',
    to: (flags['mail-to'] ?? 'me@localhost').split(',').map((s) => s.trim()),
  };
}

/** Every period of one kind from `from` to `to`, inclusive. */
export function periodRange(from: Period, to: Period): Period[] {
  if (from.kind !== to.kind) {
    throw new UsageError(
      `--from ${from.label} and --to ${to.label} are periods of different kinds`,
    );
  }
  if (daysBetween(from.start, to.start) < 0) {
    throw new UsageError(`--from ${from.label} is after --to ${to.label}`);
  }
  const out: Period[] = [from];
  while ((out.at(-1)?.label ?? to.label) !== to.label) {
    const last = out.at(-1) ?? from;
    out.push(nextPeriod(last));
    if (out.length > 10_000) throw new UsageError('backfill range is longer than 10,000 periods');
  }
  return out;
}

/** A duration for a person: seconds below two minutes, then minutes. */
function duration(ms: number): string {
  const seconds = Math.max(1, Math.round(ms / 1000));
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

async function commandBackfill(flags: Flags, ctx: RunContext): Promise<void> {
  const from = periodFlag(flags.from, 'from');
  const to = periodFlag(flags.to, 'to');
  if (!from || !to) throw new UsageError('backfill needs --from LABEL and --to LABEL');
  const periods = periodRange(from, to);
  const format = parseFormat(flags.format);
  const { config, report } = await resolveConfig(flags, ctx.cwd, from.kind);
  const root = outFolder(ctx, flags, join('out', 'backfill'));
  const bar = new SingleBar({
    stream: process.stderr,
    noTTYOutput: false,
    format: 'backfill {bar} {value}/{total} periods | {label} | eta {eta_formatted}',
  });
  const interactive = ctx.io.interactive ?? false;
  const started = performance.now();
  if (interactive) bar.start(periods.length, 0, { label: '' });
  for (const [i, p] of periods.entries()) {
    const run = await runFullReport(
      { report, source: config.source, period: p.label },
      { engine: await ctx.engine() },
      !flags['kpis-only'],
    );
    await writeRun(join(root, report.id, p.label), run, format, flags, report.headline);
    if (interactive) bar.update(i + 1, { label: p.label });
    else {
      // The time left, from the mean time per period so far.
      const left = ((performance.now() - started) / (i + 1)) * (periods.length - i - 1);
      ctx.io.stderr(
        `kpi: backfill ${i + 1}/${periods.length} ${p.label}${i + 1 < periods.length ? `, about ${duration(left)} left` : ''}\n`,
      );
    }
  }
  if (interactive) bar.stop();
  ctx.io.stderr(`kpi: wrote ${periods.length} reports under ${join(root, report.id)}\n`);
}

/** `kpi init`: proposes a configuration for an export; never replaces a file unless --force. */
async function commandInit(flags: Flags, ctx: RunContext): Promise<void> {
  if (!flags.source) throw new UsageError('init needs --source FILE or FOLDER (your export)');
  const source = resolve(ctx.cwd, flags.source);
  if (!existsSync(source)) throw new UsageError(`--source ${echo(flags.source)} does not exist`);
  const name = flags.json ? 'kpi.config.json' : 'kpi.config.ts';
  const target = resolve(ctx.cwd, name);
  if (existsSync(target) && !flags.force) {
    throw new UsageError(`${name} exists; add --force to replace it`);
  }
  const proposal = await proposeSource(source);
  // Paths in a config are relative to it.
  const relation = { ...proposal.source.relation, path: relative(ctx.cwd, source) || '.' };
  const p = { ...proposal, source: { ...proposal.source, relation } };
  writeFileSync(
    target,
    flags.json ? `${JSON.stringify(proposedConfig(p), null, 2)}\n` : configModule(p),
  );
  ctx.io.stderr(`kpi: wrote ${target}\n`);
  for (const line of p.chosen) ctx.io.stderr(`kpi: chose ${line}\n`);
  for (const line of p.undecided) ctx.io.stderr(`kpi: could not decide ${line}\n`);
  ctx.io.stderr(
    `kpi: next: npm run kpi -- run${flags.json ? ` --config ${name}` : ''} --format all --out out/\n`,
  );
}

async function commandDemo(flags: Flags, ctx: RunContext): Promise<void> {
  const sample = resolve(ctx.cwd, SAMPLE_PATH);
  const extras = {
    feedback: resolve(ctx.cwd, SAMPLE_EXTRAS.feedback),
    marketingSpend: resolve(ctx.cwd, SAMPLE_EXTRAS.marketingSpend),
  };
  if (
    ![sample, extras.feedback, extras.marketingSpend].every((p) => existsSync(p)) ||
    !(await sampleIsCurrent(sample))
  ) {
    ctx.io.stderr(`kpi: generating the sample shop at ${sample} ...\n`);
    const summary = await generateSample(sample, { end: SAMPLE_END, extras });
    ctx.io.stderr(`kpi: ${summary.rows} order rows, ${summary.customers} customers\n`);
  }
  const configPath = resolve(ctx.cwd, flags.config ?? 'kpi.config.ts');
  const config = await loadConfig(configPath);
  const report = config.reports[0];
  if (!report) throw new UsageError('the configuration has no report');
  const run = await runFullReport(
    { report, source: config.source, now: parseNow(flags.now) ?? SAMPLE_END },
    { engine: await ctx.engine() },
  );
  const result = run.report;
  const written = await writeRun(outFolder(ctx, flags, 'out'), run, 'all', flags, report.headline);
  const crr = result.kpis.crr.value;
  ctx.io.stderr(
    `kpi: ${report.name} ${result.period.label}: retention ${crr === null ? 'n/a' : `${(crr * 100).toFixed(1)}%`}, revenue ${result.kpis.revenue.value ?? 'n/a'}\n`,
  );
  for (const path of written) ctx.io.stderr(`kpi: wrote ${path}\n`);
}

/** Exit code for an error: 2 for bad input, 1 for a failing query or anything else. */
export function exitCodeOf(err: unknown): number {
  if (
    err instanceof UsageError ||
    err instanceof ConfigError ||
    err instanceof PeriodError ||
    err instanceof SourceError
  ) {
    return 2;
  }
  return 1;
}

/** Runs the `kpi` command; returns the process exit code. Errors go to stderr in one line. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let engine: DuckDbEngine | undefined;
  try {
    const { command, flags } = parseFlags(argv);
    if (command !== undefined && command !== 'help' && COMMANDS[command] && flags.help) {
      io.stdout(`${commandUsage(command)}\n`);
      return 0;
    }
    if (flags.help || command === 'help' || command === undefined) {
      (command === undefined && !flags.help ? io.stderr : io.stdout)(`${USAGE}\n`);
      return command === undefined && !flags.help ? 2 : 0;
    }
    const spec = COMMANDS[command];
    if (spec) {
      // A flag that does not apply is refused, never silently ignored.
      const foreign = Object.keys(flags).filter((f) => !spec.flags.includes(f));
      if (foreign.length > 0) {
        throw new UsageError(
          `${foreign.map((f) => `--${f}`).join(', ')} ${foreign.length === 1 ? 'does' : 'do'} not apply to ${command} (kpi ${command} --help lists its options)`,
        );
      }
    }
    const handler = {
      init: commandInit,
      run: commandRun,
      backfill: commandBackfill,
      invoke: commandInvoke,
      demo: commandDemo,
    }[command];
    if (!handler) {
      throw new UsageError(
        `unknown command ${echo(command)} (init, run, backfill, invoke, demo, help)`,
      );
    }
    await handler(flags, {
      io,
      engine: async () => (engine ??= await DuckDbEngine.create()),
      cwd: io.cwd ?? process.cwd(),
    });
    return 0;
  } catch (err) {
    const code = exitCodeOf(err);
    const message =
      err instanceof ConfigError ? err.message : (err as Error).message.split('\n')[0];
    const prefix = err instanceof QueryError ? 'query failed: ' : '';
    io.stderr(`kpi: ${prefix}${message ?? String(err)}\n`);
    return code;
  } finally {
    await engine?.close();
  }
}
