/**
 * Issue 14 on the SQS transport (fauxqs, as test/sqs-e2e.test.ts): the webhook rules live in the
 * delivery handler, so they hold when SQS hands the job over. A paused endpoint's delivery and a
 * merchant over its in-flight cap are not attempted: the message is deleted and the job goes back
 * to the outbox, published again later (so waiting never walks a delivery into the DLQ). Webhook
 * messages carry the merchant as MessageGroupId (SQS fair queues).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient, type Message, type SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { SQSBatchResponse } from 'aws-lambda';
import { startFauxqs } from 'fauxqs';
import pino from 'pino';
import { appendEvent, type EventRow } from '../../src/db/events.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { relayOnce } from '../../src/jobs/outbox-relay.ts';
import { JobQueue, sqsClient } from '../../src/jobs/sqs.ts';
import { createHandler } from '../../src/lambda.ts';
import { fanOutEvents } from '../../src/webhooks/fan-out.ts';
import { call, createMerchant, eventually, startTestFinCore, testConfig, type TestFinCore } from '../helpers.ts';
import { Receiver } from './receiver.ts';
import { toSqsEvent } from '../sqs-event.ts';

process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.AWS_REGION = 'us-east-1';

const MAX_RECEIVE_COUNT = 2;

describe('the relay publishes webhook jobs with their merchant as MessageGroupId and their delay (mocked SQS client)', () => {
  let fincore: TestFinCore;
  before(async () => {
    fincore = await startTestFinCore({}, { api: false, worker: false, simulator: false }, undefined, { auditCheckOnStop: false });
  });
  after(async () => {
    await fincore.stop();
  });

  it('a webhook job due in 90 s is sent with DelaySeconds 90 and MessageGroupId = merchant; one due in an hour stays in the outbox; a refund job carries neither', async () => {
    const pool = fincore.db.pool;
    await pool.query(
      `INSERT INTO jobs (id, job_type, ref, max_attempts, merchant_id, run_at) VALUES
         ('job_grp_soon', 'WEBHOOK', 'whd_grp_soon', 10, 'mer_grp_a', now() + interval '90 seconds'),
         ('job_grp_late', 'WEBHOOK', 'whd_grp_late', 10, 'mer_grp_a', now() + interval '1 hour'),
         ('job_grp_money', 'REFUND', 're_grp_money', 8, NULL, now())`,
    );
    const client = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const sqs = mockClient(client);
    sqs.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({ Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: 'x' })), Failed: [] }));
    const round = await relayOnce(pool, new JobQueue(client, 'https://sqs.example/q'), { batchSize: 100, leaseMs: 30_000 });
    assert.equal(round.sent, 2);
    const entries = sqs.commandCalls(SendMessageBatchCommand).flatMap((c) => c.args[0].input.Entries ?? []);
    const soon = entries.find((e) => e.Id === 'job_grp_soon');
    const money = entries.find((e) => e.Id === 'job_grp_money');
    assert.ok(soon && money);
    assert.ok(soon.DelaySeconds !== undefined && soon.DelaySeconds >= 88 && soon.DelaySeconds <= 90, String(soon.DelaySeconds));
    assert.equal(soon.MessageGroupId, 'mer_grp_a');
    assert.equal(money.DelaySeconds, undefined);
    assert.equal(money.MessageGroupId, undefined);
    assert.equal(entries.some((e) => e.Id === 'job_grp_late'), false, 'beyond SQS\'s 15-minute delay: kept in the outbox');
    await pool.query(`UPDATE jobs SET status = 'done' WHERE id LIKE 'job_grp_%'`);
  });
});

describe('webhook limits on the SQS transport (fauxqs)', () => {
  let sqsServer: Awaited<ReturnType<typeof startFauxqs>>;
  let fincore: TestFinCore;
  let queueUrl: string;
  let dlqUrl: string;
  let env: Record<string, string>;
  const receivers: Receiver[] = [];

  before(async () => {
    sqsServer = await startFauxqs({ port: 0, logger: false });
    const dlq = sqsServer.createQueue('wh-jobs-dlq');
    dlqUrl = dlq.queueUrl;
    queueUrl = sqsServer.createQueue('wh-jobs', {
      attributes: { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: MAX_RECEIVE_COUNT }) },
    }).queueUrl;
    env = {
      FINCORE_QUEUE: 'sqs',
      FINCORE_SQS_QUEUE_URL: queueUrl,
      FINCORE_SQS_DLQ_URL: dlqUrl,
      FINCORE_SQS_ENDPOINT: sqsServer.address,
      FINCORE_SQS_MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT),
      FINCORE_RELAY_POLL_MS: '50',
      FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      FINCORE_WEBHOOK_MERCHANT_CONCURRENCY: '1',
      FINCORE_AUDIT_POLL_MS: '600000',
    };
    fincore = await startTestFinCore(env, { api: true, worker: false, simulator: true });
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await fincore.stop();
    await sqsServer.stop();
  });

  async function depth(url: string): Promise<number> {
    const answer = await sqsClient({ endpoint: sqsServer.address, region: 'us-east-1' }).send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }));
    const a = answer.Attributes ?? {};
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
  }

  /** `inFlightElsewhere`: its job is written already running under another consumer (never published). */
  async function fanOut(merchantId: string, inFlightElsewhere = false): Promise<EventRow> {
    const objectId = `ch_sqs_${Math.random().toString(36).slice(2)}`;
    await appendEvent(fincore.db.pool, { merchantId, type: 'charge.succeeded', objectType: 'charge', objectId, data: { charge: { id: objectId } }, cause: { type: 'operator', id: 'test' } });
    const { rows } = await fincore.db.pool.query<EventRow>('SELECT * FROM events WHERE object_id = $1', [objectId]);
    await inTransaction(fincore.db.pool, async (tx) => {
      await fanOutEvents(tx, rows, { maxAttempts: 10_000 });
      if (inFlightElsewhere) {
        await tx.query(
          `UPDATE jobs SET status = 'running', locked_by = 'sqs_elsewhere', locked_until = now() + interval '1 hour', published_at = now()
            WHERE ref IN (SELECT id FROM webhook_deliveries WHERE event_id = $1)`,
          [rows[0]?.id],
        );
      }
    });
    fincore.ctx.wakeup.jobsCommitted('WEBHOOK');
    return rows[0] as EventRow;
  }

  it('a paused endpoint\'s delivery is re-scheduled, not attempted, and never reaches the DLQ; the probe after the pause delivers and resumes it', async () => {
    const config = testConfig({ ...fincore.database.env, ...env });
    const handler = createHandler(async () => ({ ctx: fincore.ctx, config, logger: pino({ level: 'silent' }) }));
    const queue = new JobQueue(sqsClient(config.sqs), queueUrl);
    const seen: Message[] = [];
    const failures: string[] = [];
    const pollOnce = async () => {
      const messages = await queue.receive(10, 0);
      seen.push(...messages);
      if (messages.length === 0) return;
      const answer = (await handler(toSqsEvent(messages))) as SQSBatchResponse;
      const failed = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
      failures.push(...failed);
      for (const m of messages) if (!failed.has(m.MessageId ?? '') && m.ReceiptHandle) await queue.delete(m.ReceiptHandle);
    };

    const merchant = await createMerchant(fincore.url, 'Paused SQS Shop');
    const r = await new Receiver().listen();
    receivers.push(r);
    const endpoint = await call<{ id: string }>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: merchant.apiKey, body: { url: r.url, enabled_events: ['charge.succeeded'] } });
    // The breaker opened a moment ago (as after a run of failures): paused for an hour.
    await fincore.db.pool.query(
      `UPDATE webhook_endpoints SET consecutive_failures = 10, failing_since = now() - interval '5 minutes', paused_until = now() + interval '1 hour', disabled_reason = 'test: failing' WHERE id = $1`,
      [endpoint.body.id],
    );
    const event = await fanOut(merchant.id);
    const { rows: [job] } = await fincore.db.pool.query<{ id: string; ref: string }>(`SELECT j.id, j.ref FROM jobs j JOIN webhook_deliveries d ON d.id = j.ref WHERE d.event_id = $1`, [event.id]);
    assert.ok(job);

    // The relay publishes it; the handler receives it and does not attempt it.
    await eventually(async () => {
      await pollOnce();
      const { rows } = await fincore.db.pool.query<{ status: string; published_at: Date | null; run_at: Date }>('SELECT status, published_at, run_at FROM jobs WHERE id = $1', [job.id]);
      return seen.length > 0 && rows[0]?.status === 'queued' && rows[0].published_at === null ? rows[0] : undefined;
    }, 15_000, 'the paused delivery to be received and re-scheduled');
    assert.equal(r.received.length, 0, 'not attempted while paused');
    assert.deepEqual(failures, [], 'reported as handled (deleted), not failed');
    const delivery = (await call<{ data: { status: string; attempts: number; next_attempt_at: string }[] }>(fincore.url, 'GET', `/v1/webhook_endpoints/${endpoint.body.id}/deliveries`, { key: merchant.apiKey })).body.data[0];
    assert.equal(delivery?.status, 'pending');
    assert.equal(delivery?.attempts, 0);
    assert.ok(Date.parse(delivery?.next_attempt_at ?? '') > Date.now() + 50 * 60_000, 'due after the pause');
    // Due in an hour: longer than SQS can delay a message, so it waits in the outbox.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await depth(queueUrl), 0);
    assert.equal(await depth(dlqUrl), 0);

    // The pause ends: the relay publishes the job again; its delivery is the probe, it succeeds.
    await fincore.db.pool.query(`UPDATE webhook_endpoints SET paused_until = now() - interval '1 second' WHERE id = $1`, [endpoint.body.id]);
    await fincore.db.pool.query(`UPDATE jobs SET run_at = now() WHERE id = $1`, [job.id]);
    await eventually(async () => {
      await pollOnce();
      return r.received.length > 0 ? true : undefined;
    }, 15_000, 'the probe delivery');
    assert.equal(r.received[0]?.eventId, event.id);
    const resumed = await call<{ status: string; paused_until: string | null }>(fincore.url, 'GET', `/v1/webhook_endpoints/${endpoint.body.id}`, { key: merchant.apiKey });
    assert.equal(resumed.body.status, 'enabled');
    assert.equal(resumed.body.paused_until, null);
    assert.equal(await depth(dlqUrl), 0);
  });

  it('a merchant at its in-flight cap has its next delivery deferred at handle time (re-published, never dead-lettered); it goes once a slot frees', async () => {
    const config = testConfig({ ...fincore.database.env, ...env });
    const handler = createHandler(async () => ({ ctx: fincore.ctx, config, logger: pino({ level: 'silent' }) }));
    const queue = new JobQueue(sqsClient(config.sqs), queueUrl);
    const seen: Message[] = [];
    const pollOnce = async () => {
      const messages = await queue.receive(10, 0);
      seen.push(...messages);
      if (messages.length === 0) return;
      const answer = (await handler(toSqsEvent(messages))) as SQSBatchResponse;
      const failed = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
      for (const m of messages) if (!failed.has(m.MessageId ?? '') && m.ReceiptHandle) await queue.delete(m.ReceiptHandle);
    };
    const merchant = await createMerchant(fincore.url, 'Busy SQS Shop');
    const r = await new Receiver().listen();
    receivers.push(r);
    await call(fincore.url, 'POST', '/v1/webhook_endpoints', { key: merchant.apiKey, body: { url: r.url, enabled_events: ['charge.succeeded'] } });
    // Another delivery of this merchant is in flight (cap 1): a running WEBHOOK job with a live lease.
    const busy = await fanOut(merchant.id, true);
    const { rows: [busyJob] } = await fincore.db.pool.query<{ id: string }>(`SELECT j.id FROM jobs j JOIN webhook_deliveries d ON d.id = j.ref WHERE d.event_id = $1`, [busy.id]);

    const event = await fanOut(merchant.id);
    const { rows: [job] } = await fincore.db.pool.query<{ id: string }>(`SELECT j.id FROM jobs j JOIN webhook_deliveries d ON d.id = j.ref WHERE d.event_id = $1`, [event.id]);
    // Received and deferred (about a second each time) more often than maxReceiveCount allows.
    await eventually(async () => {
      await pollOnce();
      return seen.filter((m) => (m.Body ?? '').includes(job?.id ?? '-')).length > MAX_RECEIVE_COUNT ? true : undefined;
    }, 20_000, 'several deferrals');
    assert.equal(r.received.length, 0, 'nothing attempted over the cap');
    assert.ok(seen.every((m) => m.Attributes?.ApproximateReceiveCount === '1'), 'each deferral is a fresh message');
    assert.equal(await depth(dlqUrl), 0, 'waiting never reaches the DLQ');

    // The slot frees: the delivery goes.
    await fincore.db.pool.query(`UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL WHERE id = $1`, [busyJob?.id]);
    await eventually(async () => {
      await pollOnce();
      return r.received.some((x) => x.eventId === event.id) ? true : undefined;
    }, 20_000, 'the delivery once under the cap');
    await fincore.db.pool.query(`UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL WHERE event_id = $1`, [busy.id]);
  });
});
