import type { Config } from './schema.ts';

/**
 * The example values a deployer must replace before `cdk deploy`: addresses at the reserved
 * example and test domains (RFC 2606, RFC 6761) and the example bucket names of
 * kpi.config.ts. Synth refuses them, naming each field, unless told they are meant (to try
 * the stack out): `npx cdk synth -c allowPlaceholders=true`.
 */
const RESERVED = /(^|\.)(example\.(com|org|net)|example|invalid|test|localhost)$/i;

function domainOf(address: string): string {
  return address.split('@').pop() ?? '';
}

function bucketOf(location: string): string {
  return /^s3:\/\/([^/]+)/.exec(location)?.[1] ?? location;
}

export function placeholderIssues(config: Config): string[] {
  const aws = config.aws;
  if (!aws) return [];
  const issues: string[] = [];
  const address = (field: string, value: string): void => {
    if (RESERVED.test(domainOf(value))) {
      issues.push(`${field}: ${JSON.stringify(value)} is an example address; put yours`);
    }
  };
  const bucket = (field: string, value: string | undefined): void => {
    if (value && /(^|-)example(-|$)/i.test(bucketOf(value))) {
      issues.push(`${field}: ${JSON.stringify(value)} is an example bucket; put yours`);
    }
  };
  address('aws.sender', aws.sender);
  config.reports.forEach((r, i) => {
    r.recipients.forEach((a, j) => {
      address(`reports[${i}].recipients[${j}]`, a);
    });
    r.owners.forEach((a, j) => {
      address(`reports[${i}].owners[${j}]`, a);
    });
  });
  bucket('aws.athena.createTable.bucket', aws.athena.createTable?.bucket);
  bucket('aws.athena.dataBucket', aws.athena.dataBucket);
  bucket('aws.athena.feedback.location', aws.athena.feedback?.location);
  bucket('aws.athena.marketingSpend.location', aws.athena.marketingSpend?.location);
  return issues;
}
