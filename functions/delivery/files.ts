import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Report } from '../report/report.ts';
import { atRiskCsv, type AtRiskCustomer } from '../kpis/beyond.ts';
import { toEml, type Envelope } from '../digest/eml.ts';
import { renderDigest, type RenderOptions } from '../digest/render.ts';

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

/** The JSON report as written to disk and standard output. */
export function reportJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Renders what `format` asks for; returns file name → content. */
export async function renderOutputs(
  report: Report,
  format: OutputFormat,
  envelope: Envelope,
  options: RenderOptions = {},
  atRiskList?: readonly AtRiskCustomer[],
): Promise<Map<string, string | Buffer>> {
  const out = new Map<string, string | Buffer>();
  if (atRiskList && report.beyond && (format === 'all' || format === 'json')) {
    out.set(AT_RISK_FILE, atRiskCsv(atRiskList));
  }
  const want = (f: keyof typeof FILE_NAMES): boolean => format === 'all' || format === f;
  if (want('json')) out.set(FILE_NAMES.json, reportJson(report));
  if (want('html') || want('text') || want('eml')) {
    const digest = await renderDigest(report, options);
    if (want('html')) out.set(FILE_NAMES.html, digest.html);
    if (want('text')) out.set(FILE_NAMES.text, digest.text);
    if (want('eml')) out.set(FILE_NAMES.eml, await toEml(digest, envelope));
  }
  return out;
}

/** Writes rendered outputs into `dir`; returns the paths written. */
export async function writeOutputs(
  dir: string,
  files: ReadonlyMap<string, string | Buffer>,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, content] of files) {
    const path = join(dir, name);
    await writeFile(path, content);
    written.push(path);
  }
  return written;
}
