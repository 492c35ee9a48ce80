/**
 * The Lambda worker of the `sqs` transport. Two triggers:
 * - SQS (event source mapping with ReportBatchItemFailures): each record goes through the same
 *   router and flows as the postgres worker; failed records are reported one by one, so one bad
 *   record does not redeliver its batch. Backoff is the queue's visibility timeout, dead-lettering
 *   is the queue's redrive policy.
 * - EventBridge schedule: one reconciliation sweep (pending, then terminal: flows/reconcile.ts),
 *   then one purge of expired idempotency keys.
 * The database pool and the PSP gateway live across invocations of one execution environment.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ScheduledEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pino, { type Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { flowContext, logWebhookSecrets } from './context.ts';
import { openDatabase } from './db/pool.ts';
import type { FlowContext } from './flows/context.ts';
import { reconcilePending, reconcileTerminal, terminalSweepOf, type ReconcileReport } from './flows/reconcile.ts';
import { purgeExpiredIdempotencyKeys } from './flows/idempotency.ts';
import { PURGE_MAX_BATCHES } from './jobs/idempotency-purger.ts';
import { handleQueueRecord, isFailure, type QueueRecord } from './jobs/sqs-consumer.ts';

export interface LambdaRuntime {
  ctx: FlowContext;
  config: Config;
  logger: Logger;
}

export type WorkerEvent = SQSEvent | ScheduledEvent;

function isSqsEvent(event: WorkerEvent): event is SQSEvent {
  return 'Records' in event && Array.isArray(event.Records);
}

function toQueueRecord(record: SQSRecord): QueueRecord {
  const count = Number(record.attributes?.ApproximateReceiveCount ?? '1');
  return { messageId: record.messageId, body: record.body, receiveCount: Number.isInteger(count) && count > 0 ? count : 1 };
}

/** The handler around a runtime factory, so tests run it against their own database and PSP. */
export function createHandler(init: () => Promise<LambdaRuntime>): (event: WorkerEvent) => Promise<SQSBatchResponse | ReconcileReport> {
  let runtime: Promise<LambdaRuntime> | undefined;
  const ready = () => {
    // A failed cold start is not cached: the next invocation tries again.
    runtime ??= init().catch((error: unknown) => {
      runtime = undefined;
      throw error;
    });
    return runtime;
  };

  return async (event) => {
    const { ctx, config, logger } = await ready();
    if (!isSqsEvent(event)) {
      const report = await reconcilePending(ctx, config.reconcile.afterMs);
      logger.info({ report }, 'scheduled reconciliation sweep');
      const terminal = await reconcileTerminal(ctx, terminalSweepOf(ctx));
      logger.info({ report: terminal }, 'scheduled terminal reconciliation sweep');
      const purged = await purgeExpiredIdempotencyKeys(ctx.pool, { batchSize: config.idempotency.purgeBatch, maxBatches: PURGE_MAX_BATCHES });
      if (purged.deleted > 0) logger.info({ report: purged }, 'expired idempotency keys purged');
      return report;
    }
    const options = { maxReceiveCount: config.sqs.maxReceiveCount, leaseMs: config.worker.leaseMs };
    const outcomes = await Promise.all(
      event.Records.map(async (record) => {
        try {
          return await handleQueueRecord(ctx, toQueueRecord(record), options, logger);
        } catch (error) {
          // Recording the outcome failed (database down): SQS redelivers the record.
          logger.error({ message_id: record.messageId, err: error instanceof Error ? error.message : String(error) }, 'job message not handled');
          return 'retry' as const;
        }
      }),
    );
    return {
      batchItemFailures: event.Records.filter((_, i) => isFailure(outcomes[i] ?? 'retry')).map((record) => ({ itemIdentifier: record.messageId })),
    };
  };
}

async function readSecret(client: SecretsManagerClient, secretId: string): Promise<Record<string, unknown>> {
  const answer = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  const parsed: unknown = JSON.parse(answer.SecretString ?? '{}');
  if (typeof parsed !== 'object' || parsed === null) throw new ConfigError(`secret ${secretId} is not a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * Lambda has no secret injection into the environment (ECS does): read the RDS secret
 * (FINCORE_DB_SECRET_ARN: host, port, username, password, dbname) and the PSP secret
 * (FINCORE_PSP_SECRET_ARN: environment variable names to values) at cold start.
 */
export async function environmentWithSecrets(env: NodeJS.ProcessEnv, client?: SecretsManagerClient): Promise<NodeJS.ProcessEnv> {
  const out: NodeJS.ProcessEnv = { ...env };
  if (!env.FINCORE_DB_SECRET_ARN && !env.FINCORE_PSP_SECRET_ARN) return out;
  const secrets = client ?? new SecretsManagerClient({});
  if (env.FINCORE_DB_SECRET_ARN) {
    const db = await readSecret(secrets, env.FINCORE_DB_SECRET_ARN);
    for (const [field, name] of [['host', 'PGHOST'], ['port', 'PGPORT'], ['username', 'PGUSER'], ['password', 'PGPASSWORD'], ['dbname', 'PGDATABASE']] as const) {
      const value = db[field];
      if (typeof value === 'string' || typeof value === 'number') out[name] = String(value);
    }
  }
  if (env.FINCORE_PSP_SECRET_ARN) {
    for (const [name, value] of Object.entries(await readSecret(secrets, env.FINCORE_PSP_SECRET_ARN))) {
      // Empty values too: an unfilled secret must be refused by loadConfig, naming the variable,
      // not silently replaced by a default.
      if (/^[A-Z][A-Z0-9_]*$/.test(name) && typeof value === 'string') out[name] = value;
    }
  }
  return out;
}

export const handler = createHandler(async () => {
  const config = loadConfig(await environmentWithSecrets(process.env));
  if (!config.databaseUrl) throw new ConfigError('the Lambda worker needs a PostgreSQL server (DATABASE_URL, PGHOST or FINCORE_DB_SECRET_ARN)');
  const logger = pino({ level: config.logLevel });
  logWebhookSecrets(config, logger);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.dbPoolSize, namedStatements: config.dbNamedStatements, tls: config.dbTls });
  return { ctx: { ...flowContext(db, config), log: logger.child({ component: 'flows' }) }, config, logger };
});
