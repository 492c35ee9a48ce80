/**
 * The `sqs` transport: publishing (batches of 10, job_type attribute, partial failures) against a
 * mocked SQS client; the outbox relay against the real database; and the Lambda handler on SQS
 * event fixtures against the real database and the real PSP simulator.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { SendMessageBatchCommand, SQSClient, type SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import pino from 'pino';
import { findJob, type JobRecord } from '../src/db/jobs.ts';
import type { FlowContext } from '../src/flows/context.ts';
import type { ReconcileReport } from '../src/flows/reconcile.ts';
import { relayOnce } from '../src/jobs/outbox-relay.ts';
import { JobQueue } from '../src/jobs/sqs.ts';
import type { JobMessage } from '../src/jobs/message.ts';
import { createHandler } from '../src/lambda.ts';
import { createSimulatorGateway } from '../src/psp/simulator/adapter.ts';
import {
  call,
  createMerchant,
  eventually,
  pspCreateCalls,
  startTestFinCore,
  testConfig,
  waitForCharge,
  waitForRefund,
  type ChargeBody,
  type RefundBody,
  type TestFinCore,
} from './helpers.ts';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/111122223333/fincore-jobs';
const silent = pino({ level: 'silent' });

function jobMessages(count: number): JobMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    job_id: `job_${String(i).padStart(26, '0')}`,
    job_type: i % 2 === 0 ? 'CHARGE' : 'REFUND',
    ref: i % 2 === 0 ? `ch_${i}` : `re_${i}`,
    attempt: 1,
  }));
}

/** A real-shaped SQS record (test/fixtures/sqs-record.json) carrying `body`. */
function sqsRecord(messageId: string, body: string, receiveCount = 1): SQSRecord {
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/sqs-record.json', import.meta.url), 'utf8')) as SQSRecord;
  return { ...fixture, messageId, body, attributes: { ...fixture.attributes, ApproximateReceiveCount: String(receiveCount) } };
}

function jobRecord(job: JobRecord, receiveCount = 1): SQSRecord {
  return sqsRecord(`msg-${job.id}-${receiveCount}`, JSON.stringify({ job_id: job.id, job_type: job.job_type, ref: job.ref, attempt: receiveCount }), receiveCount);
}

describe('SQS publishing (mocked SQS client)', () => {
  it('sends batches of at most 10 with the DESIGN §4 body and job_type as a message attribute', async () => {
    const client = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const sqs = mockClient(client);
    sqs.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({ Successful: (input.Entries ?? []).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: 'x' })), Failed: [] }));
    const messages = jobMessages(23);
    const result = await new JobQueue(client, QUEUE_URL).publish(messages);

    const batches = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input);
    assert.deepEqual(batches.map((b) => b.Entries?.length), [10, 10, 3]);
    assert.ok(batches.every((b) => b.QueueUrl === QUEUE_URL));
    const entries = batches.flatMap((b) => b.Entries ?? []);
    entries.forEach((entry, i) => {
      const message = messages[i];
      assert.ok(message);
      assert.equal(entry.Id, message.job_id);
      assert.deepEqual(JSON.parse(entry.MessageBody ?? ''), { job_id: message.job_id, job_type: message.job_type, ref: message.ref, attempt: 1 });
      assert.deepEqual(entry.MessageAttributes?.job_type, { DataType: 'String', StringValue: message.job_type });
    });
    assert.equal(result.sent.length, 23);
    assert.deepEqual(result.failed, []);
  });

  it('reports the entries SQS refused one by one, and the rest as sent', async () => {
    const client = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const sqs = mockClient(client);
    const messages = jobMessages(4);
    const refused = new Set([messages[1]?.job_id, messages[3]?.job_id]);
    sqs.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: (input.Entries ?? []).filter((e) => !refused.has(e.Id)).map((e) => ({ Id: e.Id, MessageId: 'm', MD5OfMessageBody: 'x' })),
      Failed: (input.Entries ?? []).filter((e) => refused.has(e.Id)).map((e) => ({ Id: e.Id, Code: 'InternalError', Message: 'try again', SenderFault: false })),
    }));
    const result = await new JobQueue(client, QUEUE_URL).publish(messages);
    assert.deepEqual(result.sent, [messages[0]?.job_id, messages[2]?.job_id]);
    assert.deepEqual(result.failed.map((f) => f.jobId), [messages[1]?.job_id, messages[3]?.job_id]);
    assert.match(result.failed[0]?.reason ?? '', /InternalError/);
  });
});

describe('outbox relay and Lambda handler (real database, real PSP simulator)', () => {
  let fincore: TestFinCore;
  let apiKey: string;
  let handler: (event: SQSEvent) => Promise<SQSBatchResponse>;

  before(async () => {
    // API and simulator only: the jobs the API writes are carried out by the handler under test.
    fincore = await startTestFinCore({ FINCORE_SQS_MAX_RECEIVE_COUNT: '3' }, { api: true, worker: false, simulator: true });
    apiKey = (await createMerchant(fincore.url)).apiKey;
    const config = testConfig({ ...fincore.database.env, FINCORE_SQS_MAX_RECEIVE_COUNT: '3' });
    const lambda = createHandler(async () => ({ ctx: fincore.ctx, config, logger: silent }));
    handler = (event) => lambda(event) as Promise<SQSBatchResponse>;
  });
  after(() => fincore.stop());

  async function jobOf(ref: string): Promise<JobRecord> {
    const { rows } = await fincore.db.pool.query<JobRecord>('SELECT * FROM jobs WHERE ref = $1', [ref]);
    assert.equal(rows.length, 1);
    return rows[0] as JobRecord;
  }

  async function createCharge(amount: number, paymentMethod = 'pm_card_visa'): Promise<ChargeBody> {
    const created = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount, currency: 'usd', payment_method: paymentMethod } });
    assert.equal(created.status, 201);
    return created.body;
  }

  it('relays unsent jobs, marks only those SQS accepted, and sends the refused ones again after their lease', async () => {
    const charges = [await createCharge(100), await createCharge(200), await createCharge(300)];
    const jobs = await Promise.all(charges.map((c) => jobOf(c.id)));
    assert.ok(jobs.every((j) => j.published_at === null));
    const refusedId = jobs[1]?.id;
    const published: string[] = [];
    const flaky = {
      async publish(messages: JobMessage[]) {
        const mine = messages.filter((m) => jobs.some((j) => j.id === m.job_id));
        published.push(...mine.map((m) => m.job_id));
        return { sent: mine.filter((m) => m.job_id !== refusedId).map((m) => m.job_id), failed: mine.filter((m) => m.job_id === refusedId).map((m) => ({ jobId: m.job_id, reason: 'InternalError' })) };
      },
    };
    // The lease must outlast the assertions below even on a loaded machine.
    const round = await relayOnce(fincore.db.pool, flaky, { batchSize: 100, leaseMs: 1500 });
    assert.equal(round.sent, 2);
    assert.equal(round.failed, 1);
    assert.equal((await findJob(fincore.db.pool, refusedId ?? ''))?.published_at, null, 'a refused message is not marked sent');
    assert.ok((await findJob(fincore.db.pool, jobs[0]?.id ?? ''))?.published_at instanceof Date);
    // Its lease holds it back at once, then it goes again.
    assert.equal((await relayOnce(fincore.db.pool, flaky, { batchSize: 100, leaseMs: 1500 })).leased, 0);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const retried = await relayOnce(fincore.db.pool, { publish: async (messages) => ({ sent: messages.map((m) => m.job_id), failed: [] }) }, { batchSize: 100, leaseMs: 300 });
    assert.equal(retried.sent, 1);
    assert.ok((await findJob(fincore.db.pool, refusedId ?? ''))?.published_at instanceof Date);

    // SQS unreachable: nothing is marked, everything stays for the next round.
    const charge = await createCharge(400);
    await assert.rejects(relayOnce(fincore.db.pool, { publish: async () => Promise.reject(new Error('connect ECONNREFUSED')) }, { batchSize: 100, leaseMs: 10 }));
    assert.equal((await jobOf(charge.id)).published_at, null);
    assert.deepEqual(published.slice(0, 3).sort(), jobs.map((j) => j.id).sort());
  });

  it('settles a charge and a refund from SQS event records, and treats a duplicate delivery as done', async () => {
    const charge = await createCharge(5000);
    const chargeJob = await jobOf(charge.id);
    assert.deepEqual(await handler({ Records: [jobRecord(chargeJob)] }), { batchItemFailures: [] });
    assert.equal((await waitForCharge(fincore.url, apiKey, charge.id)).status, 'succeeded');
    assert.equal((await findJob(fincore.db.pool, chargeJob.id))?.status, 'done');

    const refund = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 1200 } });
    assert.equal(refund.status, 201);
    const refundJob = await jobOf(refund.body.id);
    assert.deepEqual(await handler({ Records: [jobRecord(refundJob)] }), { batchItemFailures: [] });
    assert.equal((await waitForRefund(fincore.url, apiKey, refund.body.id)).status, 'succeeded');

    // At-least-once delivery: the same message again changes nothing and is not a failure.
    assert.deepEqual(await handler({ Records: [jobRecord(refundJob, 2)] }), { batchItemFailures: [] });
    const calls = await pspCreateCalls(fincore.simulatorUrl);
    assert.equal(calls[`charges ${charge.id}`], 1);
    assert.equal(calls[`refunds ${refund.body.id}`], 1);
  });

  it('reports exactly the malformed records in batchItemFailures and still handles the rest', async () => {
    const good = [await createCharge(700), await createCharge(800)];
    const goodJobs = await Promise.all(good.map((c) => jobOf(c.id)));
    const records = [
      jobRecord(goodJobs[0] as JobRecord),
      sqsRecord('bad-json', 'this is not json'),
      sqsRecord('bad-type', JSON.stringify({ job_id: 'job_1', job_type: 'PAYOUT', ref: 'po_1', attempt: 1 })),
      sqsRecord('no-such-job', JSON.stringify({ job_id: 'job_00000000000000000000000000', job_type: 'CHARGE', ref: 'ch_missing', attempt: 1 })),
      jobRecord(goodJobs[1] as JobRecord),
    ];
    const answer = await handler({ Records: records });
    assert.deepEqual(answer.batchItemFailures.map((f) => f.itemIdentifier).sort(), ['bad-json', 'bad-type', 'no-such-job']);
    for (const charge of good) assert.equal((await waitForCharge(fincore.url, apiKey, charge.id)).status, 'succeeded');
  });

  it('a failing job is reported for redelivery, and on its last receive it is dead-lettered with an event; unknown stays pending', async () => {
    const charge = await createCharge(900);
    const job = await jobOf(charge.id);
    const unreachable: FlowContext = { ...fincore.ctx, psp: createSimulatorGateway({ baseUrl: 'http://127.0.0.1:9', webhookSecret: 'x', timeoutMs: 300 }) };
    const config = testConfig({ ...fincore.database.env, FINCORE_SQS_MAX_RECEIVE_COUNT: '3' });
    const failing = createHandler(async () => ({ ctx: unreachable, config, logger: silent }));

    const first = (await failing({ Records: [jobRecord(job, 1)] })) as SQSBatchResponse;
    assert.deepEqual(first.batchItemFailures, [{ itemIdentifier: `msg-${job.id}-1` }]);
    const retrying = await findJob(fincore.db.pool, job.id);
    assert.equal(retrying?.status, 'queued');
    assert.match(retrying?.last_error ?? '', /PspTransientError/);
    assert.ok(retrying?.published_at === null, 'never published by a relay here; a redelivery is SQS\'s job, not the relay\'s');

    const last = (await failing({ Records: [jobRecord(job, 3)] })) as SQSBatchResponse;
    assert.deepEqual(last.batchItemFailures, [{ itemIdentifier: `msg-${job.id}-3` }]);
    assert.equal((await findJob(fincore.db.pool, job.id))?.status, 'dead');
    const events = await fincore.db.pool.query<{ type: string }>('SELECT type FROM events WHERE object_id = $1', [job.id]);
    assert.deepEqual(events.rows.map((e) => e.type), ['job.dead_lettered']);
    assert.equal((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: apiKey })).body.status, 'pending');

    // An operator redrives the message: a dead job runs again and settles.
    assert.deepEqual(await handler({ Records: [jobRecord(job, 1)] }), { batchItemFailures: [] });
    assert.equal((await waitForCharge(fincore.url, apiKey, charge.id)).status, 'succeeded');
  });

  it('a scheduled event runs one reconciliation sweep', async () => {
    const lambda = createHandler(async () => ({ ctx: fincore.ctx, config: testConfig({ ...fincore.database.env, FINCORE_RECONCILE_AFTER_MS: '0' }), logger: silent }));
    const charge = await createCharge(1000);
    const job = await jobOf(charge.id);
    // The PSP learns of the charge, but its webhook is dropped: only reconciliation settles it.
    await fetch(`${fincore.simulatorUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ webhook_drop_rate: 1 }) });
    try {
      assert.deepEqual(await handler({ Records: [jobRecord(job)] }), { batchItemFailures: [] });
      await eventually(async () => ((await pspCreateCalls(fincore.simulatorUrl))[`charges ${charge.id}`] === 1 ? true : undefined), 5000, 'the PSP to see the charge');
      await new Promise((resolve) => setTimeout(resolve, 100)); // past the simulator's settle delay
      const report = (await lambda({ version: '0', id: 'e', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '1', time: new Date().toISOString(), region: 'us-east-1', resources: [], detail: {} })) as ReconcileReport;
      assert.ok(report.settled >= 1, JSON.stringify(report));
      assert.equal((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${charge.id}`, { key: apiKey })).body.status, 'succeeded');
    } finally {
      await fetch(`${fincore.simulatorUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ webhook_drop_rate: 0 }) });
    }
  });
});
