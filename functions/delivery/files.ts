import { renameSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Report } from '../report/report.ts';
import { atRiskCsv, type AtRiskCustomer } from '../kpis/beyond.ts';
import { toEml, type Envelope } from '../digest/eml.ts';
import {
  renderDigest,
  renderFullReport,
  type Digest,
  type RenderOptions,
} from '../digest/render.ts';

export const OUTPUT_FORMATS = ['json', 'html', 'text', 'eml', 'all'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

const FILE_NAMES = {
  json: 'report.json',
  html: 'digest.html',
  text: 'digest.txt',
  eml: 'digest.eml',
} as const;

/** The at-risk export's file name, next to the report. */
export const AT_RISK_FILE = 'at-risk.csv';

/** The full report's file name (an HTML page), next to the digest, which links it. */
export const REPORT_FILE = 'report.html';

/** Whether `format` writes the full report (and so whether a digest beside it may link it). */
export function writesFullReport(format: OutputFormat): boolean {
  return format === 'all' || format === 'html';
}

/** What a run already rendered (the digest mailed, the full report it links), to write as is. */
export interface Rendered {
  readonly digest?: Digest;
  readonly fullReport?: string;
}

/** The JSON report as written to disk and standard output. */
export function reportJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Renders what `format` asks for; returns file name → content. `rendered`, when given, holds
 * what was already rendered (the digest mailed, the full report it links), so that the files
 * are those, not new ones. `html` writes the full report beside the digest.
 */
export async function renderOutputs(
  report: Report,
  format: OutputFormat,
  envelope: Envelope,
  options: RenderOptions = {},
  atRiskList?: readonly AtRiskCustomer[],
  rendered: Rendered = {},
): Promise<Map<string, string | Buffer>> {
  const out = new Map<string, string | Buffer>();
  if (atRiskList && report.beyond && (format === 'all' || format === 'json')) {
    out.set(AT_RISK_FILE, atRiskCsv(atRiskList));
  }
  const want = (f: keyof typeof FILE_NAMES): boolean => format === 'all' || format === f;
  if (want('json')) out.set(FILE_NAMES.json, reportJson(report));
  if (want('html') || want('text') || want('eml')) {
    const digest = rendered.digest ?? (await renderDigest(report, options));
    if (want('html')) out.set(FILE_NAMES.html, digest.html);
    if (want('text')) out.set(FILE_NAMES.text, digest.text);
    if (want('eml')) out.set(FILE_NAMES.eml, await toEml(digest, envelope));
  }
  if (writesFullReport(format)) {
    out.set(REPORT_FILE, rendered.fullReport ?? (await renderFullReport(report, options)));
  }
  return out;
}

/** The prefix of the hidden folder a run writes its files in before moving them into place. */
const STAGING = '.kpi-partial-';

/**
 * Writes rendered outputs into `dir` (created if missing), all or nothing: every file is
 * written and flushed to disk in a hidden folder inside `dir` first, and renamed into place
 * only when all of them are complete, so a failed or killed run leaves `dir` as it was (but
 * for that hidden folder, which the next run into `dir` removes). Returns the paths written.
 */
export async function writeOutputs(
  dir: string,
  files: ReadonlyMap<string, string | Buffer>,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  await removeStale(dir);
  const staging = await mkdtemp(join(dir, `${STAGING}${process.pid}-`));
  try {
    for (const [name, content] of files) {
      const handle = await open(join(staging, name), 'wx');
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    // All renamed in one synchronous loop: no other work runs between them.
    const written: string[] = [];
    for (const name of files.keys()) {
      renameSync(join(staging, name), join(dir, name));
      written.push(join(dir, name));
    }
    return written;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Removes the hidden folders of runs into `dir` whose process has ended (killed runs). */
async function removeStale(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) {
    if (!entry.startsWith(STAGING)) continue;
    const pid = Number(entry.slice(STAGING.length).split('-')[0]);
    if (pid === process.pid || (Number.isInteger(pid) && isAlive(pid))) continue;
    await rm(join(dir, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
