/**
 * End to end over a real SQS-protocol server (fauxqs, started in-process): the API writes the
 * outbox, its relay publishes to the queue, the Lambda handler is fed from ReceiveMessage as
 * Lambda's event source mapping would feed it, and the refund settles. A poison message fails
 * every receive, lands in the dead-letter queue through the redrive policy, and
 * `fincore jobs redrive` moves it back.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { startFauxqs } from 'fauxqs';
import pino from 'pino';
import { JobQueue, sqsClient } from '../src/jobs/sqs.ts';
import { createHandler } from '../src/lambda.ts';
import { toSqsEvent } from './sqs-event.ts';
import { call, createMerchant, eventually, pspCreateCalls, startTestFinCore, testConfig, type ChargeBody, type RefundBody, type TestFinCore } from './helpers.ts';

// fauxqs accepts any credentials; the SDK insists on having some.
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.AWS_REGION = 'us-east-1';

const MAX_RECEIVE_COUNT = 2;

describe('SQS end to end (fauxqs)', () => {
  let sqsServer: Awaited<ReturnType<typeof startFauxqs>>;
  let fincore: TestFinCore;
  let queueUrl: string;
  let dlqUrl: string;
  let env: Record<string, string>;

  before(async () => {
    sqsServer = await startFauxqs({ port: 0, logger: false });
    const dlq = sqsServer.createQueue('fincore-jobs-dlq');
    dlqUrl = dlq.queueUrl;
    // Visibility timeout 1 s: a failed message comes back quickly (it is the backoff on SQS).
    queueUrl = sqsServer.createQueue('fincore-jobs', {
      attributes: { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: MAX_RECEIVE_COUNT }) },
    }).queueUrl;
    env = {
      FINCORE_QUEUE: 'sqs',
      FINCORE_SQS_QUEUE_URL: queueUrl,
      FINCORE_SQS_DLQ_URL: dlqUrl,
      FINCORE_SQS_ENDPOINT: sqsServer.address,
      FINCORE_SQS_MAX_RECEIVE_COUNT: String(MAX_RECEIVE_COUNT),
      FINCORE_RELAY_POLL_MS: '50',
    };
    // The API service (with its outbox relay) and the PSP; no postgres worker.
    fincore = await startTestFinCore(env, { api: true, worker: false, simulator: true });
  });
  after(async () => {
    await fincore.stop();
    await sqsServer.stop();
  });

  async function queueDepth(url: string): Promise<number> {
    const answer = await sqsClient({ endpoint: sqsServer.address, region: 'us-east-1' }).send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Number(answer.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(answer.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  it('outbox -> relay -> queue -> Lambda handler -> settled charge and refund; a poison message ends in the DLQ and is redriven', async () => {
    const config = testConfig({ ...fincore.database.env, ...env });
    const handler = createHandler(async () => ({ ctx: fincore.ctx, config, logger: pino({ level: 'silent' }) }));
    const queue = new JobQueue(sqsClient(config.sqs), queueUrl);
    const failures: string[] = [];
    /** One poll of the event source mapping: receive, invoke, delete what did not fail. */
    const pollOnce = async () => {
      const messages = await queue.receive(10, 1);
      if (messages.length === 0) return;
      const answer = (await handler(toSqsEvent(messages))) as SQSBatchResponse;
      const failed = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
      failures.push(...failed);
      for (const m of messages) if (!failed.has(m.MessageId ?? '') && m.ReceiptHandle) await queue.delete(m.ReceiptHandle);
    };
    const until = async <T>(check: () => Promise<T | undefined>, what: string) =>
      eventually(async () => {
        await pollOnce();
        return check();
      }, 20_000, what);

    const { apiKey } = await createMerchant(fincore.url);
    const charge = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 8000, currency: 'usd', payment_method: 'pm_card_visa' } });
    assert.equal(charge.status, 201);
    await until(async () => ((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.body.id}`, { key: apiKey })).body.status === 'succeeded' ? true : undefined), 'the charge to settle through SQS');
    const refund = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.body.id, amount: 2500 } });
    assert.equal(refund.status, 201);
    await until(async () => ((await call<RefundBody>(fincore.url, 'GET', `/v1/refunds/${refund.body.id}`, { key: apiKey })).body.status === 'succeeded' ? true : undefined), 'the refund to settle through SQS');
    const published = await fincore.db.pool.query<{ published_at: Date | null; status: string }>('SELECT published_at, status FROM jobs WHERE ref = ANY($1)', [[charge.body.id, refund.body.id]]);
    assert.ok(published.rows.every((j) => j.published_at instanceof Date && j.status === 'done'), JSON.stringify(published.rows));
    const calls = await pspCreateCalls(fincore.simulatorUrl);
    assert.equal(calls[`charges ${charge.body.id}`], 1);
    assert.equal(calls[`refunds ${refund.body.id}`], 1);
    assert.deepEqual(failures, []);

    // A poison message: every receive fails; after maxReceiveCount SQS moves it to the DLQ.
    const client = sqsClient(config.sqs);
    const poison = await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"job_type":"REFUND"', MessageAttributes: { job_type: { DataType: 'String', StringValue: 'REFUND' } } }));
    await until(async () => ((await queueDepth(dlqUrl)) === 1 ? true : undefined), 'the poison message to reach the DLQ');
    assert.equal(failures.filter((id) => id === poison.MessageId).length, MAX_RECEIVE_COUNT, 'reported failed on each receive, nothing else failed');
    assert.equal(failures.length, MAX_RECEIVE_COUNT);
    assert.equal(await queueDepth(queueUrl), 0);

    // fincore jobs redrive moves it back, body and job_type attribute unchanged.
    const redrive = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'jobs', 'redrive'], {
      env: { ...process.env, ...fincore.database.env, ...env, LOG_LEVEL: 'silent' },
    });
    assert.match(redrive.stdout, /moved 1 message/);
    assert.equal(await queueDepth(dlqUrl), 0);
    const [back] = await queue.receive(10, 1);
    assert.equal(back?.Body, '{"job_type":"REFUND"');
    assert.equal(back?.MessageAttributes?.job_type?.StringValue, 'REFUND');
    if (back?.ReceiptHandle) await queue.delete(back.ReceiptHandle);
  });

  it('fincore worker with FINCORE_QUEUE=sqs polls the queue as the Lambda would, and settles a refund', async () => {
    const local = sqsServer.createQueue('fincore-jobs-local', { attributes: { VisibilityTimeout: '1' } });
    const all = await startTestFinCore({ ...env, FINCORE_SQS_QUEUE_URL: local.queueUrl }, { api: true, worker: true, simulator: true });
    try {
      const { apiKey } = await createMerchant(all.url);
      const charge = await call<ChargeBody>(all.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 3000, currency: 'jpy', payment_method: 'pm_card_visa' } });
      await eventually(async () => ((await call<ChargeBody>(all.url, 'GET', `/v1/charges/${charge.body.id}`, { key: apiKey })).body.status === 'succeeded' ? true : undefined), 20_000, 'the charge to settle');
      const refund = await call<RefundBody>(all.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.body.id } });
      const settled = await eventually(async () => {
        const r = await call<RefundBody>(all.url, 'GET', `/v1/refunds/${refund.body.id}`, { key: apiKey });
        return r.body.status === 'succeeded' ? r.body : undefined;
      }, 20_000, 'the refund to settle');
      assert.equal(settled.amount, 3000);
      // The refund can settle (the PSP's webhook) before the worker has finished its job and
      // deleted the message: wait for the deletion, do not race it.
      await eventually(async () => ((await queueDepth(local.queueUrl)) === 0 ? true : undefined), 10_000, 'every message handled to be deleted');
    } finally {
      await all.stop();
    }
  });
});
