import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { AwsConfig, SourceConfig } from '../functions/config/schema.ts';

export interface AthenaProps {
  readonly athena: AwsConfig['athena'];
  readonly columns: SourceConfig['columns'];
  /** Dimensions (column names) the created table has as text columns too. */
  readonly dimensions?: SourceConfig['dimensions'];
  readonly accessLogs: IBucket;
}

/**
 * The Athena side: a work group whose settings callers cannot override (result location,
 * encryption, scan cutoff), an encrypted results bucket that forgets old results, and,
 * when asked, the Glue database and table over date-partitioned Parquet with partition
 * projection (no MSCK REPAIR).
 */
export class AthenaResources extends Construct {
  readonly workGroup: CfnWorkGroup;
  readonly results: Bucket;
  /** The bucket holding the orders, when the stack defines the table. */
  readonly data: IBucket | undefined;
  readonly dataPrefix: string | undefined;

  constructor(scope: Construct, id: string, props: AthenaProps) {
    super(scope, id);
    const a = props.athena;
    this.results = new Bucket(this, 'Results', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'athena-results/',
      lifecycleRules: [{ expiration: Duration.days(a.resultsRetentionDays) }],
      // Kept when the stack is deleted (a bucket holding results cannot be deleted; its
      // lifecycle rule empties it within resultsRetentionDays).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.workGroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: a.workGroup,
      description: 'kpi-digest report queries',
      state: 'ENABLED',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: a.bytesScannedCutoffPerQuery,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${this.results.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });

    if (a.createTable) {
      const t = a.createTable;
      this.data = Bucket.fromBucketName(this, 'Data', t.bucket);
      this.dataPrefix = t.prefix;
      const account = Stack.of(this).account;
      // What the stack creates is retained on delete: dropping the database would drop every
      // table in it, the user's too. An existing database is referenced, never owned.
      const database = t.createDatabase
        ? new CfnDatabase(this, 'Database', {
            catalogId: account,
            databaseInput: { name: a.database, description: 'kpi-digest orders' },
          })
        : undefined;
      database?.applyRemovalPolicy(RemovalPolicy.RETAIN);
      const c = props.columns;
      const table = new CfnTable(this, 'Orders', {
        catalogId: account,
        databaseName: a.database,
        tableInput: {
          name: a.table,
          tableType: 'EXTERNAL_TABLE',
          parameters: {
            classification: 'parquet',
            'projection.enabled': 'true',
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': `${t.since},NOW`,
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            'storage.location.template': `s3://${t.bucket}/${t.prefix}dt=\${dt}/`,
          },
          partitionKeys: [{ name: 'dt', type: 'string' }],
          storageDescriptor: {
            location: `s3://${t.bucket}/${t.prefix}`,
            inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            serdeInfo: {
              serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
            },
            columns: [
              { name: c.order_id, type: 'string' },
              { name: c.customer_id, type: 'string' },
              { name: c.ordered_at, type: 'timestamp' },
              // The statements cast it to DECIMAL(18, 2) either way.
              { name: c.amount, type: t.amountType },
              ...(c.status ? [{ name: c.status, type: 'string' }] : []),
              // The dimensions' columns (the config allows no expression here), once each.
              ...[...new Set(Object.values(props.dimensions ?? {}))]
                .filter((d) => !Object.values(c).includes(d))
                .map((d) => ({ name: d, type: 'string' })),
            ],
          },
        },
      });
      table.applyRemovalPolicy(RemovalPolicy.RETAIN);
      if (database) table.addResourceDependency(database);
    }
  }
}
