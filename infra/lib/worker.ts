import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { PaymentsDatabase } from './database.ts';
import type { JobQueue } from './job-queue.ts';
import { APPLICATION_SUBNETS } from './network.ts';
import type { FinCoreSecrets } from './secrets.ts';
import type { FinCoreSettings } from './settings.ts';

export interface WorkerProps {
  vpc: ec2.IVpc;
  settings: FinCoreSettings;
  /** Directory holding the esbuild bundle (`index.mjs`), normally `dist/lambda`. */
  codeDir: string;
  jobQueue: JobQueue;
  database: PaymentsDatabase;
  secrets: FinCoreSecrets;
}

/**
 * The worker: a Lambda function that executes CHARGE and REFUND jobs delivered by SQS, and runs
 * one reconciliation sweep per scheduled event.
 */
export class Worker extends Construct {
  readonly function: lambda.Function;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: WorkerProps) {
    super(scope, id);
    const { vpc, settings, jobQueue, database, secrets } = props;

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'FinCore worker (Lambda)',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'PSP and AWS APIs over HTTPS');
    database.allowConnectionsFrom(this.securityGroup, 'FinCore worker');

    this.function = new lambda.Function(this, 'Function', {
      description: 'FinCore worker: CHARGE and REFUND jobs from SQS, and the reconciliation sweep',
      // The design asks for Node.js 22 or newer on Lambda (nodejs20.x is deprecated there).
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(props.codeDir),
      memorySize: settings.workerMemoryMiB,
      timeout: Duration.seconds(settings.workerTimeoutSeconds),
      vpc,
      vpcSubnets: APPLICATION_SUBNETS,
      securityGroups: [this.securityGroup],
      environment: {
        // Secrets by ARN, read at cold start: their values never sit in the function's configuration.
        FINCORE_DB_SECRET_ARN: database.secret.secretArn,
        ...(secrets.pspCredentials && { FINCORE_PSP_SECRET_ARN: secrets.pspCredentials.secretArn }),
        FINCORE_PSP: settings.psp,
        // Verified against the RDS CA bundle bundled with the function (src/db/tls.ts).
        PGSSLMODE: 'verify-full',
        // The handler treats the delivery with this receive count as the job's last attempt.
        FINCORE_SQS_MAX_RECEIVE_COUNT: String(jobQueue.maxReceiveCount),
        // The bundle ships a source map; this makes stack traces point at src/.
        NODE_OPTIONS: '--enable-source-maps',
      },
      logGroup: new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH }),
    });
    database.secret.grantRead(this.function);
    secrets.pspCredentials?.grantRead(this.function);

    // The event source grants exactly what polling needs (receive, delete, change visibility,
    // get attributes / url) on this queue: the worker consumes, it never sends.
    this.function.addEventSource(new SqsEventSource(jobQueue.queue, {
      batchSize: settings.workerBatchSize,
      maxConcurrency: settings.workerMaxConcurrency,
      // One failed job must not send its whole batch around again.
      reportBatchItemFailures: true,
    }));

    new events.Rule(this, 'ReconciliationSchedule', {
      description: 'FinCore reconciliation sweep: settle charges and refunds left pending at the PSP',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      // No retries: the next sweep is a minute away and does the same work.
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }
}
