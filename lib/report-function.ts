import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { reportFunctionName, type Config } from '../functions/config/schema.ts';

export interface ReportFunctionProps {
  /** The validated configuration this stack was synthesized with, bundled as JSON. */
  readonly config: Config;
  readonly memoryMb: number;
  readonly logRetentionDays: number;
  /** Longest run: the Athena wait plus rendering and sending. */
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The bundled configuration's file name, next to the handler. */
export const CONFIG_FILE = 'kpi.config.json';

/** The RetentionDays member for a number of days the config has already validated. */
function retentionDays(days: number): RetentionDays {
  const found = Object.values(RetentionDays).find(
    (v): v is RetentionDays => typeof v === 'number' && (v as number) === days,
  );
  if (found === undefined)
    throw new Error(`aws.logRetentionDays: ${days} is not a CloudWatch retention`);
  return found;
}

/**
 * The report Lambda: Node.js 22 on ARM64, bundled and minified by the local esbuild.
 * DuckDB is the laptop engine and stays out of the bundle; the MJML templates and
 * message files are copied next to it.
 */
export class ReportFunction extends Construct {
  readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: ReportFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', {
      retention: retentionDays(props.logRetentionDays),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The configuration chosen at synth (KPI_CONFIG), not the repository's kpi.config.ts:
    // written next to the bundle, so a staging stack ships staging's recipients.
    const configDir = mkdtempSync(join(tmpdir(), 'kpi-config-'));
    writeFileSync(join(configDir, CONFIG_FILE), `${JSON.stringify(props.config)}\n`);
    this.fn = new NodejsFunction(this, 'Function', {
      functionName: reportFunctionName(Stack.of(this).stackName),
      entry: `${ROOT}functions/handlers/report.ts`,
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memoryMb,
      timeout: props.timeout,
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: {
        KPI_TEMPLATES_DIR: '/var/task/templates/',
        KPI_CONFIG_FILE: `/var/task/${CONFIG_FILE}`,
        POWERTOOLS_SERVICE_NAME: 'kpi-digest',
        POWERTOOLS_METRICS_NAMESPACE: 'KpiDigest',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        // No source map ships (it was 29 MB); names are kept so stack traces stay readable.
        sourceMap: false,
        minify: true,
        keepNames: true,
        // DuckDB (native, laptop only) never enters the bundle; the handler does not import
        // it. The TypeScript compiler (3.6 MB, reached through mjml → htmlnano → cosmiconfig)
        // is only loaded to read a .ts config file of htmlnano's, which the function has none
        // of: cosmiconfig requires it lazily, so leaving it out costs nothing at run time.
        // The Trino grammar (dt-sql-parser) checks config files at synth, not in the function.
        externalModules: ['@duckdb/node-api', 'typescript', 'dt-sql-parser'],
        // ESM bundles of CommonJS packages need require().
        banner:
          "import { createRequire as __createRequire } from 'module'; const require = __createRequire(import.meta.url);",
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) => [
            `cp -r "${inputDir}/templates" "${outputDir}/templates"`,
            `cp "${join(configDir, CONFIG_FILE)}" "${outputDir}/${CONFIG_FILE}"`,
          ],
        },
      },
    });
  }
}
