/**
 * Every `kpi` command the README's command list, `kpi --help` and the digest print runs as
 * printed, in a fresh project folder after `npm start` (the demo), and succeeds.
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { EXAMPLES, main } from '../../functions/cli/main.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let project = '';

async function kpi(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    cwd: project,
  });
  return { code, out, err };
}

/** `npm run kpi -- a b c  # note` → ['a', 'b', 'c'] */
function argsOf(line: string): string[] {
  return line
    .replace(/#.*$/, '')
    .replace(/^npm run kpi -- /, '')
    .trim()
    .split(/\s+/);
}

beforeAll(async () => {
  // A project folder like a clone: the project's own configuration, its sample made by the
  // demo, as `npm start` does.
  project = mkdtempSync(join(tmpdir(), 'kpi-project-'));
  // The repository's public test data, as a clone has it.
  mkdirSync(join(project, 'test'));
  symlinkSync(join(ROOT, 'test', 'data'), join(project, 'test', 'data'));
  writeFileSync(
    join(project, 'kpi.config.ts'),
    `export { default } from ${JSON.stringify(join(ROOT, 'kpi.config.ts'))};\n`,
  );
  const demo = await kpi(['demo']);
  expect(demo.err).not.toMatch(/^kpi: (?!generating|\d|wrote|Weekly)/m);
  expect(demo.code).toBe(0);
}, 180_000);

describe('the commands the project prints run as printed', () => {
  test('the README lists exactly the examples of kpi --help', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /## The `kpi` command[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const listed = block
      .split('\n')
      .filter((l) => l.startsWith('npm run kpi -- '))
      .map((l) => argsOf(l).join(' '));
    expect([...listed].sort()).toEqual([...EXAMPLES].sort());
  });

  test.each(EXAMPLES.filter((e) => e !== 'demo'))(
    'kpi %s',
    async (example) => {
      const saved = process.env;
      // The Athena example prints its SQL without credentials: none are there to use.
      process.env = { ...saved, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: '', AWS_PROFILE: '' };
      try {
        const r = await kpi(example.split(' '));
        expect(r.code, r.err).toBe(0);
      } finally {
        process.env = saved;
      }
    },
    120_000,
  );

  test('the digest’s own “run this report yourself” command', async () => {
    const text = readFileSync(join(project, 'out', 'digest.txt'), 'utf8');
    const command = /npm run kpi -- [^\n]+/.exec(text)?.[0] ?? '';
    expect(command).toBe('npm run kpi -- run --period 2026-W47');
    // The digest links the list and the full report beside it, not a path of the machine
    // that ran it, and says which report it is by name.
    const html = readFileSync(join(project, 'out', 'digest.html'), 'utf8');
    expect(html).toContain('href="at-risk.csv"');
    expect(html).toContain('href="report.html"');
    expect(readFileSync(join(project, 'out', 'report.html'), 'utf8')).toContain(
      'href="at-risk.csv"',
    );
    expect(html).not.toContain(project);
    expect(html).toMatch(/Generated .* for the report “Weekly KPIs”\./);
    const r = await kpi(argsOf(command));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ period: { label: '2026-W47' } });
  }, 120_000);
});
