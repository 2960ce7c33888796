#!/usr/bin/env tsx
/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy`. Loads kpi.config.ts, the same file the
 * CLI and the Lambda use, and fails naming the field when it is wrong.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, loadConfig } from '../functions/config/load.ts';
import { placeholderIssues } from '../functions/config/placeholders.ts';
import { KpiDigestStack } from '../lib/kpi-digest-stack.ts';

const file = process.env.KPI_CONFIG ?? 'kpi.config.ts';
try {
  const config = await loadConfig(file);
  const app = new App();
  // The example values of kpi.config.ts deploy nothing useful: refused unless meant.
  const allow = String(app.node.tryGetContext('allowPlaceholders') ?? '') === 'true';
  const placeholders = placeholderIssues(config);
  if (placeholders.length > 0 && !allow) {
    throw new ConfigError(
      [
        ...placeholders,
        'to synthesize with the example values anyway (to try the stack), add -c allowPlaceholders=true',
      ],
      file,
    );
  }
  // One stack per environment, named by its config (aws.stackName).
  new KpiDigestStack(app, config.aws?.stackName ?? 'KpiDigest', {
    config,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
  throw e;
}
