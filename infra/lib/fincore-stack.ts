import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';
import { JobAlarms } from './alarms.ts';
import { PaymentsDatabase } from './database.ts';
import { JobQueue } from './job-queue.ts';
import { Network } from './network.ts';
import { PaymentService } from './payment-service.ts';
import { FinCoreSecrets } from './secrets.ts';
import type { FinCoreSettings } from './settings.ts';
import { Worker } from './worker.ts';

export interface FinCoreStackProps extends StackProps {
  settings: FinCoreSettings;
  /** The API container image (the app builds it from the repository's Dockerfile). */
  apiImage: ecs.ContainerImage;
  /**
   * Directory of the worker's Lambda bundle. A prop rather than a fixed path so that the
   * assertion tests can pass a stand-in directory: the template does not depend on the bundle's
   * content, only on its asset hash.
   */
  workerCodeDir: string;
}

/**
 * FinCore as the design's physical view draws it. No lookups and no account or region in the
 * code, so `cdk synth` works offline and the template deploys to any account.
 */
export class FinCoreStack extends Stack {
  readonly network: Network;
  readonly database: PaymentsDatabase;
  readonly jobQueue: JobQueue;
  readonly secrets: FinCoreSecrets;
  readonly paymentService: PaymentService;
  readonly worker: Worker;
  readonly alarms: JobAlarms;

  constructor(scope: Construct, id: string, props: FinCoreStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.network = new Network(this, 'Network', { natGateways: settings.natGateways });
    const vpc = this.network.vpc;
    this.database = new PaymentsDatabase(this, 'Database', { vpc, settings });
    this.jobQueue = new JobQueue(this, 'Jobs', settings);
    this.secrets = new FinCoreSecrets(this, 'Secrets', settings);
    const shared = { vpc, settings, database: this.database, secrets: this.secrets };
    this.paymentService = new PaymentService(this, 'PaymentService', { ...shared, image: props.apiImage, jobQueue: this.jobQueue.queue });
    this.worker = new Worker(this, 'Worker', { ...shared, codeDir: props.workerCodeDir, jobQueue: this.jobQueue });
    this.alarms = new JobAlarms(this, 'Alarms', this.jobQueue, settings);

    // What an operator needs after a deploy: where the API is, what to fill in, what to redrive.
    new CfnOutput(this, 'ApiUrl', { value: this.paymentService.url });
    new CfnOutput(this, 'JobQueueUrl', { value: this.jobQueue.queue.queueUrl, description: 'FINCORE_SQS_QUEUE_URL' });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.jobQueue.deadLetterQueue.queueUrl, description: 'FINCORE_SQS_DLQ_URL' });
    new CfnOutput(this, 'AdminKeySecretArn', { value: this.secrets.adminKey.secretArn });
    new CfnOutput(this, 'PspWebhookSecretArn', { value: this.secrets.pspWebhookSecret.secretArn });
    new CfnOutput(this, 'DatabaseSecretArn', { value: this.database.secret.secretArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }
}
