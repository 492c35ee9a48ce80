import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FinCoreSettings } from './settings.ts';

/**
 * The design's job queue: one SQS queue for CHARGE and REFUND jobs (message attribute
 * `job_type`) fed by the outbox relay, and its dead-letter queue. The `jobs` table stays the
 * record; SQS only delivers.
 */
export class JobQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, settings: FinCoreSettings) {
    super(scope, id);
    this.maxReceiveCount = settings.maxReceiveCount;
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      // Longer than the source queue's: a standard queue keeps a message's original enqueue time
      // when it is dead-lettered, and an operator needs days to look at a poison job.
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      // AWS guidance for Lambda event sources: at least six times the function timeout, so a
      // message is not handed to a second invocation while the first may still be working on it.
      visibilityTimeout: Duration.seconds(6 * settings.workerTimeoutSeconds),
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
    });
  }
}
