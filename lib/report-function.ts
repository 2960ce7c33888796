import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { REPORT_FUNCTION_NAME } from '../functions/handlers/run.ts';

export interface ReportFunctionProps {
  readonly memoryMb: number;
  readonly logRetentionDays: number;
  /** Longest run: the Athena wait plus rendering and sending. */
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));

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
 * The report Lambda: Node.js 22 on ARM64, bundled by the local esbuild with source maps.
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
    this.fn = new NodejsFunction(this, 'Function', {
      functionName: REPORT_FUNCTION_NAME,
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
        NODE_OPTIONS: '--enable-source-maps',
        KPI_TEMPLATES_DIR: '/var/task/templates/',
        POWERTOOLS_SERVICE_NAME: 'kpi-digest',
        POWERTOOLS_METRICS_NAMESPACE: 'KpiDigest',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        sourceMap: true,
        minify: true,
        // DuckDB (native, laptop only) never enters the bundle; the handler does not import it.
        externalModules: ['@duckdb/node-api'],
        // ESM bundles of CommonJS packages need require().
        banner:
          "import { createRequire as __createRequire } from 'module'; const require = __createRequire(import.meta.url);",
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) => [
            `cp -r "${inputDir}/templates" "${outputDir}/templates"`,
          ],
        },
      },
    });
  }
}
