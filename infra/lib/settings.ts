/**
 * Deployment parameters, read once from CDK context (`cdk.json` or `-c key=value`) and validated.
 * `-c` values arrive as strings and cdk.json values as JSON, so both are accepted. A bad value
 * stops the synth with the key's name instead of producing a template nobody asked for.
 */

export interface FinCoreSettings {
  /** FINCORE_PSP for the API and the worker. */
  psp: string;
  /**
   * Full ARN of a Secrets Manager secret the operator created before deploying, holding non-empty
   * STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET. Required with psp=stripe: the stack never seeds
   * PSP credentials (an empty placeholder once let a public development secret verify webhooks).
   */
  pspCredentialsSecretArn: string;
  /** API tasks running behind the load balancer. */
  apiDesiredCount: number;
  /** Fargate CPU units of one API task (256 = 0.25 vCPU). */
  apiCpu: number;
  apiMemoryMiB: number;
  /** NAT gateways: the application subnets reach the PSP and AWS APIs through them. */
  natGateways: number;
  dbInstanceType: string;
  dbMultiAz: boolean;
  dbAllocatedStorageGiB: number;
  /** Storage autoscaling ceiling. */
  dbMaxAllocatedStorageGiB: number;
  dbBackupRetentionDays: number;
  dbDeletionProtection: boolean;
  workerMemoryMiB: number;
  workerTimeoutSeconds: number;
  /** SQS messages handed to one worker invocation. */
  workerBatchSize: number;
  /** Concurrent worker invocations the SQS event source may start (bounds database connections). */
  workerMaxConcurrency: number;
  /** Deliveries of one job message before SQS moves it to the dead-letter queue. */
  maxReceiveCount: number;
  /** Alarm when the oldest job has waited this long. */
  queueAgeAlarmSeconds: number;
  /** ACM certificate for an HTTPS listener; empty: plain HTTP on port 80 (development only). */
  certificateArn: string;
  /** Subscribed to the alarm topic when set. */
  alarmEmail: string;
}

export const DEFAULT_SETTINGS: FinCoreSettings = {
  psp: 'stripe',
  pspCredentialsSecretArn: '',
  apiDesiredCount: 2,
  apiCpu: 512,
  apiMemoryMiB: 1024,
  natGateways: 2,
  dbInstanceType: 't4g.small',
  dbMultiAz: true,
  dbAllocatedStorageGiB: 20,
  dbMaxAllocatedStorageGiB: 100,
  dbBackupRetentionDays: 7,
  dbDeletionProtection: true,
  workerMemoryMiB: 512,
  workerTimeoutSeconds: 30,
  workerBatchSize: 10,
  workerMaxConcurrency: 5,
  // Same as FINCORE_JOB_MAX_ATTEMPTS' default for the postgres transport.
  maxReceiveCount: 8,
  queueAgeAlarmSeconds: 300,
  certificateArn: '',
  alarmEmail: '',
};

export class SettingsError extends Error {}

type Reader = (key: string) => unknown;

function integer(read: Reader, key: keyof FinCoreSettings, fallback: number, min: number, max: number): number {
  const raw = read(key);
  if (raw === undefined || raw === '') return fallback;
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SettingsError(`context ${key} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function boolean(read: Reader, key: keyof FinCoreSettings, fallback: boolean): boolean {
  const raw = read(key);
  if (raw === undefined || raw === '') return fallback;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new SettingsError(`context ${key} must be true or false, got ${JSON.stringify(raw)}`);
}

function text(read: Reader, key: keyof FinCoreSettings, fallback: string, pattern: RegExp): string {
  const raw = read(key);
  if (raw === undefined || raw === '') return fallback;
  if (typeof raw !== 'string' || !pattern.test(raw)) {
    throw new SettingsError(`context ${key} must match ${pattern}, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** `read` is usually `(key) => app.node.tryGetContext(key)`. */
export function readSettings(read: Reader): FinCoreSettings {
  const d = DEFAULT_SETTINGS;
  const settings: FinCoreSettings = {
    psp: text(read, 'psp', d.psp, /^[a-z][a-z0-9-]*$/),
    pspCredentialsSecretArn: text(read, 'pspCredentialsSecretArn', d.pspCredentialsSecretArn, /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/),
    apiDesiredCount: integer(read, 'apiDesiredCount', d.apiDesiredCount, 1, 100),
    apiCpu: integer(read, 'apiCpu', d.apiCpu, 256, 16384),
    apiMemoryMiB: integer(read, 'apiMemoryMiB', d.apiMemoryMiB, 512, 122880),
    // At least one: without a NAT gateway the application subnets cannot reach the PSP.
    natGateways: integer(read, 'natGateways', d.natGateways, 1, 2),
    dbInstanceType: text(read, 'dbInstanceType', d.dbInstanceType, /^[a-z0-9-]+\.[a-z0-9]+$/),
    dbMultiAz: boolean(read, 'dbMultiAz', d.dbMultiAz),
    dbAllocatedStorageGiB: integer(read, 'dbAllocatedStorageGiB', d.dbAllocatedStorageGiB, 20, 65536),
    dbMaxAllocatedStorageGiB: integer(read, 'dbMaxAllocatedStorageGiB', d.dbMaxAllocatedStorageGiB, 20, 65536),
    dbBackupRetentionDays: integer(read, 'dbBackupRetentionDays', d.dbBackupRetentionDays, 1, 35),
    dbDeletionProtection: boolean(read, 'dbDeletionProtection', d.dbDeletionProtection),
    workerMemoryMiB: integer(read, 'workerMemoryMiB', d.workerMemoryMiB, 128, 10240),
    // 900 s / 6 = 150 s keeps the queue's visibility timeout (6x) under SQS's 12-hour limit with room.
    workerTimeoutSeconds: integer(read, 'workerTimeoutSeconds', d.workerTimeoutSeconds, 5, 900),
    // Above 10 a standard queue requires a batching window, which would delay every job.
    workerBatchSize: integer(read, 'workerBatchSize', d.workerBatchSize, 1, 10),
    // 2 is the smallest maximum concurrency an SQS event source accepts.
    workerMaxConcurrency: integer(read, 'workerMaxConcurrency', d.workerMaxConcurrency, 2, 1000),
    maxReceiveCount: integer(read, 'maxReceiveCount', d.maxReceiveCount, 1, 1000),
    queueAgeAlarmSeconds: integer(read, 'queueAgeAlarmSeconds', d.queueAgeAlarmSeconds, 60, 1_209_600),
    certificateArn: text(read, 'certificateArn', d.certificateArn, /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/),
    alarmEmail: text(read, 'alarmEmail', d.alarmEmail, /^[^@\s]+@[^@\s]+$/),
  };
  if (settings.psp === 'stripe' && settings.pspCredentialsSecretArn === '') {
    throw new SettingsError(
      'context pspCredentialsSecretArn is required with psp=stripe: create a Secrets Manager secret holding non-empty ' +
        'STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, then pass its full ARN (-c pspCredentialsSecretArn=arn:aws:secretsmanager:...). ' +
        'FinCore refuses to start with an empty or missing webhook secret.',
    );
  }
  if (settings.dbMaxAllocatedStorageGiB < settings.dbAllocatedStorageGiB) {
    throw new SettingsError('context dbMaxAllocatedStorageGiB must not be below dbAllocatedStorageGiB');
  }
  return settings;
}
