/**
 * Outbound merchant webhooks (issue 7): endpoints over the API, signed deliveries to a real local
 * receiver, retries on the endpoint's schedule, resends, deletion, isolation between merchants,
 * and a slow endpoint that never slows charges and refunds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { appendEvent, type EventRow } from '../src/db/events.ts';
import { inTransaction } from '../src/db/pool.ts';
import { eventObject } from '../src/domain/objects.ts';
import { parseJobMessage } from '../src/jobs/message.ts';
import { isPrivateAddress, postWebhook } from '../src/webhooks/deliver.ts';
import { fanOutEvents } from '../src/webhooks/fan-out.ts';
import { signWebhook, verifyWebhookSignature } from '../src/webhooks/signature.ts';
import { call, createMerchant, eventually, settledCharge, waitForRefund, type ErrorBody, type ListBody, type RefundBody, type TestFinCore, startTestFinCore } from './helpers.ts';
import { withoutReferenceUpdates } from './reference-updates.ts';

const TIMEOUT_MS = 3000;
const WEBHOOK_LANE = 4;

interface Received {
  headers: IncomingHttpHeaders;
  rawBody: string;
  eventId: string;
  verified: boolean;
}

type Answer = 'ok' | 'fail' | 'hang';

/** A merchant's receiving server: verifies each delivery with the README's logic, answers as told. */
class Receiver {
  readonly received: Received[] = [];
  readonly hanging = new Set<ServerResponse>();
  answer: Answer = 'ok';
  secret = '';
  private server: Server = this.newServer();
  port = 0;

  private newServer(): Server {
    return createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const signature = req.headers['fincore-signature'];
        this.received.push({
          headers: req.headers,
          rawBody,
          eventId: (JSON.parse(rawBody) as { id: string }).id,
          verified: verifyWebhookSignature(rawBody, typeof signature === 'string' ? signature : undefined, this.secret),
        });
        if (this.answer === 'hang') {
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
          return;
        }
        if (this.answer === 'fail') res.writeHead(500, { 'content-type': 'text/plain' }).end('boom: receiver is failing');
        else res.writeHead(200).end('ok');
      });
    });
  }

  async listen(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  /** Down: refuses connections until listen() again on the same port. */
  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server = this.newServer();
  }

  /** What a receiver keeps: each event once, whatever the copies. */
  uniqueEventIds(): Set<string> {
    return new Set(this.received.map((r) => r.eventId));
  }

  count(eventId: string): number {
    return this.received.filter((r) => r.eventId === eventId).length;
  }
}

interface EndpointBody {
  id: string;
  object: string;
  url: string;
  enabled_events: string[];
  description: string | null;
  status: string;
  secret?: string;
  created_at: string;
}
interface DeliveryBody {
  id: string;
  object: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_attempt_at: string | null;
  last_response_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
}

describe('merchant webhooks', () => {
  let fincore: TestFinCore;
  const receivers: Receiver[] = [];

  before(async () => {
    fincore = await startTestFinCore({
      FINCORE_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
      FINCORE_WEBHOOK_BACKOFF_BASE_MS: '50',
      FINCORE_WEBHOOK_BACKOFF_MAX_MS: '300',
      FINCORE_WEBHOOK_CONCURRENCY: String(WEBHOOK_LANE),
      FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
      FINCORE_WORKER_CONCURRENCY: '8',
      FINCORE_WORKER_BATCH: '4',
      // These tests hand events to the fan-out themselves: the audit relay (which would do it
      // too, racing them) seals once at start and then waits longer than the file runs.
      FINCORE_AUDIT_POLL_MS: '600000',
    });
  });
  after(async () => {
    for (const receiver of receivers) await receiver.close();
    await fincore.stop();
  });

  async function receiver(): Promise<Receiver> {
    const r = await new Receiver().listen();
    receivers.push(r);
    return r;
  }

  async function endpointFor(apiKey: string, r: Receiver, enabledEvents: string[] = ['*']): Promise<EndpointBody> {
    const created = await call<EndpointBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: r.url, enabled_events: enabledEvents } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    r.secret = created.body.secret ?? '';
    return created.body;
  }

  /** An event as the events relay will hand it over: appended, then read back as stored. */
  async function storedEvent(merchantId: string, type: string): Promise<EventRow> {
    const objectType = type.startsWith('charge.') ? 'charge' : 'refund';
    const objectId = `${objectType === 'charge' ? 'ch' : 're'}_test_${Math.random().toString(36).slice(2)}`;
    await appendEvent(fincore.db.pool, { merchantId, type, objectType, objectId, data: { [objectType]: { id: objectId, status: 'succeeded' } }, cause: { type: 'api_request', id: 'req_test' } });
    const { rows } = await fincore.db.pool.query<EventRow>('SELECT * FROM events WHERE object_id = $1', [objectId]);
    assert.equal(rows.length, 1);
    return rows[0] as EventRow;
  }

  async function fanOut(events: EventRow[], sameTransaction?: (tx: { query: typeof fincore.db.pool.query }) => Promise<unknown>): Promise<number> {
    const written = await inTransaction(fincore.db.pool, async (tx) => {
      const n = await fanOutEvents(tx, events, { maxAttempts: 10_000 });
      await sameTransaction?.(tx);
      return n;
    });
    fincore.ctx.wakeup.jobsCommitted('WEBHOOK');
    return written;
  }

  async function deliveries(apiKey: string, endpointId: string): Promise<DeliveryBody[]> {
    const answer = await call<ListBody<DeliveryBody>>(fincore.url, 'GET', `/v1/webhook_endpoints/${endpointId}/deliveries?limit=100`, { key: apiKey });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.data;
  }

  async function deliveryWhen(apiKey: string, endpointId: string, eventId: string, check: (d: DeliveryBody) => boolean, what: string, timeoutMs = 10_000): Promise<DeliveryBody> {
    return eventually(async () => (await deliveries(apiKey, endpointId)).find((d) => d.event_id === eventId && check(d)), timeoutMs, what);
  }

  it('endpoints: created with a secret shown once, read, listed newest first, deleted; bad input is a 400 in the contract shape', async () => {
    const { apiKey } = await createMerchant(fincore.url, 'Endpoint Shop');
    const created = await call<EndpointBody>(fincore.url, 'POST', '/v1/webhook_endpoints', {
      key: apiKey,
      body: { url: 'https://shop.example/hooks', enabled_events: ['refund.succeeded', 'charge.failed'], description: 'orders' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.id, /^we_/);
    assert.match(created.body.secret ?? '', /^whsec_.{20,}/);
    assert.deepEqual({ ...created.body, id: '', secret: '', created_at: '' }, {
      id: '', object: 'webhook_endpoint', url: 'https://shop.example/hooks', enabled_events: ['refund.succeeded', 'charge.failed'],
      description: 'orders', status: 'enabled', paused_until: null, disabled_reason: null, previous_secret_expires_at: null, secret: '', created_at: '',
    });

    const read = await call<EndpointBody>(fincore.url, 'GET', `/v1/webhook_endpoints/${created.body.id}`, { key: apiKey });
    assert.equal(read.status, 200);
    assert.equal(read.body.id, created.body.id);
    assert.equal('secret' in read.body, false, 'a read never shows the secret');

    const second = await call<EndpointBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: 'http://shop.example/b', enabled_events: ['*'] } });
    const third = await call<EndpointBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: 'http://shop.example/c', enabled_events: ['*'] } });
    const page1 = await call<ListBody<EndpointBody>>(fincore.url, 'GET', '/v1/webhook_endpoints?limit=2', { key: apiKey });
    assert.deepEqual(page1.body.data.map((e) => e.id), [third.body.id, second.body.id]);
    assert.equal(page1.body.has_more, true);
    const page2 = await call<ListBody<EndpointBody>>(fincore.url, 'GET', `/v1/webhook_endpoints?limit=2&starting_after=${second.body.id}`, { key: apiKey });
    assert.deepEqual(page2.body.data.map((e) => e.id), [created.body.id]);
    assert.equal(page2.body.has_more, false);
    for (const e of [...page1.body.data, ...page2.body.data]) assert.equal('secret' in e, false);

    // Same Idempotency-Key, same request: the same endpoint, not a second one.
    const keyed = { key: apiKey, headers: { 'idempotency-key': 'we-1' }, body: { url: 'https://shop.example/keyed', enabled_events: ['*'] } };
    const first = await call<EndpointBody>(fincore.url, 'POST', '/v1/webhook_endpoints', keyed);
    const replay = await call<EndpointBody>(fincore.url, 'POST', '/v1/webhook_endpoints', keyed);
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.body, first.body);
    const reused = await call<ErrorBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { ...keyed, body: { ...keyed.body, url: 'https://shop.example/other' } });
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error.code, 'idempotency_key_reused');
    const all = await call<ListBody<EndpointBody>>(fincore.url, 'GET', '/v1/webhook_endpoints?limit=100', { key: apiKey });
    assert.equal(all.body.data.length, 4);

    const bad: Array<[unknown, string, string]> = [
      [{ url: 'https://a.example', enabled_events: ['*'], secret: 'mine' }, 'parameter_unknown', 'secret'],
      [{ enabled_events: ['*'] }, 'parameter_missing', 'url'],
      [{ url: 'https://a.example' }, 'parameter_missing', 'enabled_events'],
      [{ url: 'ftp://a.example/x', enabled_events: ['*'] }, 'parameter_invalid', 'url'],
      [{ url: `https://a.example/${'x'.repeat(2048)}`, enabled_events: ['*'] }, 'parameter_invalid', 'url'],
      [{ url: 'https://user:pw@a.example/x', enabled_events: ['*'] }, 'parameter_invalid', 'url'],
      [{ url: 'https://a.example', enabled_events: [] }, 'parameter_invalid', 'enabled_events'],
      [{ url: 'https://a.example', enabled_events: ['Refund Succeeded'] }, 'parameter_invalid', 'enabled_events'],
      [{ url: 'https://a.example', enabled_events: '*' }, 'parameter_invalid', 'enabled_events'],
    ];
    for (const [body, code, param] of bad) {
      const refused = await call<ErrorBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body });
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.equal(refused.body.error.type, 'invalid_request_error');
      assert.equal(refused.body.error.code, code, JSON.stringify(refused.body));
      assert.equal(refused.body.error.param, param, JSON.stringify(refused.body));
    }

    // Another merchant's endpoint does not exist for this merchant.
    const other = await createMerchant(fincore.url, 'Other Shop');
    for (const [method, path] of [
      ['GET', `/v1/webhook_endpoints/${created.body.id}`],
      ['DELETE', `/v1/webhook_endpoints/${created.body.id}`],
      ['GET', `/v1/webhook_endpoints/${created.body.id}/deliveries`],
      ['POST', `/v1/webhook_endpoints/${created.body.id}/deliveries/whd_x/resend`],
    ] as const) {
      const missing = await call<ErrorBody>(fincore.url, method, path, { key: other.apiKey });
      assert.equal(missing.status, 404, `${method} ${path}`);
      assert.equal(missing.body.error.code, 'resource_missing');
    }
    assert.equal((await call<ListBody<EndpointBody>>(fincore.url, 'GET', '/v1/webhook_endpoints', { key: other.apiKey })).body.data.length, 0);

    const deleted = await call<EndpointBody>(fincore.url, 'DELETE', `/v1/webhook_endpoints/${created.body.id}`, { key: apiKey });
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.status, 'deleted');
    assert.equal('secret' in deleted.body, false);
    assert.equal((await call<EndpointBody>(fincore.url, 'GET', `/v1/webhook_endpoints/${created.body.id}`, { key: apiKey })).body.status, 'deleted');
    assert.equal((await call<EndpointBody>(fincore.url, 'DELETE', `/v1/webhook_endpoints/${created.body.id}`, { key: apiKey })).status, 200, 'deleting twice is harmless');
  });

  it('a delivered event is the public event object, signed with the endpoint secret; fan-out of the same batch again writes nothing', async () => {
    const merchant = await createMerchant(fincore.url, 'Signed Shop');
    const r = await receiver();
    const endpoint = await endpointFor(merchant.apiKey, r);
    const event = await storedEvent(merchant.id, 'refund.succeeded');
    assert.equal(await fanOut([event]), 1);
    assert.equal(await fanOut([event]), 0, 'handed over again: no second delivery');

    const got = await eventually(async () => r.received[0], 10_000, 'delivery');
    assert.equal(got.rawBody, JSON.stringify(eventObject(event)));
    assert.equal(got.verified, true, 'signature verifies with the secret from creation');
    assert.equal(got.headers['fincore-event-id'], event.id);
    assert.match(got.headers['user-agent'] ?? '', /^FinCore-Webhooks\//);
    assert.match(got.headers['content-type'] ?? '', /^application\/json/);
    // The check can fail: another body, another secret, or a stale timestamp do not verify.
    const header = String(got.headers['fincore-signature']);
    assert.equal(verifyWebhookSignature(`${got.rawBody} `, header, r.secret), false);
    assert.equal(verifyWebhookSignature(got.rawBody, header, 'whsec_wrong'), false);
    const stale = Math.floor(Date.now() / 1000) - 301;
    assert.equal(verifyWebhookSignature(got.rawBody, signWebhook(r.secret, stale, got.rawBody), r.secret), false);

    const delivered = await deliveryWhen(merchant.apiKey, endpoint.id, event.id, (d) => d.status === 'succeeded', 'delivery succeeded');
    assert.equal(delivered.attempts, 1);
    assert.equal(delivered.last_response_status, 200);
    assert.equal(delivered.event_type, 'refund.succeeded');
    assert.equal(delivered.next_attempt_at, null);
    assert.match(delivered.id, /^whd_/);
    // The worker marks finished jobs done in groups, a moment after the delivery is recorded.
    const statuses = async () => (await fincore.db.pool.query<{ status: string }>(`SELECT status FROM jobs WHERE job_type = 'WEBHOOK' AND ref = $1`, [delivered.id])).rows.map((j) => j.status);
    await eventually(async () => ((await statuses()).includes('done') ? true : undefined), 5000, 'the WEBHOOK job done').catch(() => undefined);
    assert.deepEqual(await statuses(), ['done']);
  });

  it('an endpoint answering 500 is retried with backoff, each attempt logged, until it answers 2xx', async () => {
    const merchant = await createMerchant(fincore.url, 'Flaky Shop');
    const r = await receiver();
    r.answer = 'fail';
    const endpoint = await endpointFor(merchant.apiKey, r);
    const event = await storedEvent(merchant.id, 'charge.succeeded');
    await fanOut([event]);
    const failing = await deliveryWhen(merchant.apiKey, endpoint.id, event.id, (d) => d.attempts >= 2, 'two failed attempts');
    assert.equal(failing.status, 'pending');
    assert.equal(failing.last_response_status, 500);
    assert.equal(failing.last_error, 'boom: receiver is failing');
    assert.ok(failing.next_attempt_at !== null && failing.last_attempt_at !== null);
    r.answer = 'ok';
    const delivered = await deliveryWhen(merchant.apiKey, endpoint.id, event.id, (d) => d.status === 'succeeded', 'delivered after the endpoint recovered');
    assert.ok(delivered.attempts >= 3);
    assert.equal(delivered.last_response_status, 200);
    assert.equal(delivered.last_error, null);
    assert.ok(r.received.every((x) => x.verified && x.eventId === event.id));
  });

  it('an endpoint that does not answer within the timeout is retried', async () => {
    const merchant = await createMerchant(fincore.url, 'Sleepy Shop');
    const r = await receiver();
    r.answer = 'hang';
    const endpoint = await endpointFor(merchant.apiKey, r);
    const event = await storedEvent(merchant.id, 'refund.failed');
    await fanOut([event]);
    await eventually(async () => (r.hanging.size > 0 ? true : undefined), 10_000, 'a hanging request');
    r.answer = 'ok';
    const delivered = await deliveryWhen(merchant.apiKey, endpoint.id, event.id, (d) => d.status === 'succeeded', 'delivered after a timeout', TIMEOUT_MS + 10_000);
    assert.equal(delivered.attempts, 2);
    assert.equal(r.count(event.id), 2);
  });

  it('a resend delivers the same event again; a receiver deduplicating by event id keeps it once', async () => {
    const merchant = await createMerchant(fincore.url, 'Twice Shop');
    const r = await receiver();
    const endpoint = await endpointFor(merchant.apiKey, r);
    const event = await storedEvent(merchant.id, 'refund.succeeded');
    await fanOut([event]);
    const delivered = await deliveryWhen(merchant.apiKey, endpoint.id, event.id, (d) => d.status === 'succeeded', 'first delivery');

    const resent = await call<DeliveryBody>(fincore.url, 'POST', `/v1/webhook_endpoints/${endpoint.id}/deliveries/${delivered.id}/resend`, { key: merchant.apiKey });
    assert.equal(resent.status, 202, JSON.stringify(resent.body));
    assert.equal(resent.body.id, delivered.id);
    assert.equal(resent.body.status, 'pending');
    await eventually(async () => (r.count(event.id) === 2 ? true : undefined), 10_000, 'the second copy');
    assert.equal(r.received.every((x) => x.verified), true);
    assert.equal(r.uniqueEventIds().size, 1, 'same event id: the receiver keeps one');
    const again = await deliveryWhen(merchant.apiKey, endpoint.id, event.id, (d) => d.status === 'succeeded' && d.attempts === 2, 'resend logged');
    assert.equal(again.id, delivered.id);
    const missing = await call<ErrorBody>(fincore.url, 'POST', `/v1/webhook_endpoints/${endpoint.id}/deliveries/whd_nope/resend`, { key: merchant.apiKey });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'resource_missing');
  });

  it('an endpoint down for a while gets every event once it is back', async () => {
    const merchant = await createMerchant(fincore.url, 'Outage Shop');
    const r = await receiver();
    const endpoint = await endpointFor(merchant.apiKey, r);
    const port = r.port;
    await r.close();
    const events = [await storedEvent(merchant.id, 'charge.succeeded'), await storedEvent(merchant.id, 'refund.succeeded'), await storedEvent(merchant.id, 'refund.failed')];
    assert.equal(await fanOut(events), 3);
    for (const event of events) {
      const refused = await deliveryWhen(merchant.apiKey, endpoint.id, event.id, (d) => d.attempts >= 2, 'failed attempts while down');
      assert.equal(refused.status, 'pending');
      assert.equal(refused.last_response_status, null);
      assert.match(refused.last_error ?? '', /ECONNREFUSED/);
    }
    await r.listen(port);
    await eventually(async () => (r.uniqueEventIds().size === 3 ? true : undefined), 10_000, 'all events after the outage');
    assert.deepEqual([...r.uniqueEventIds()].sort(), events.map((e) => e.id).sort());
    for (const event of events) await deliveryWhen(merchant.apiKey, endpoint.id, event.id, (d) => d.status === 'succeeded', 'succeeded');
  });

  it("an endpoint gets only its merchant's events, of the types it enabled", async () => {
    const a = await createMerchant(fincore.url, 'Shop A');
    const b = await createMerchant(fincore.url, 'Shop B');
    const ra = await receiver();
    const rb = await receiver();
    await endpointFor(a.apiKey, ra, ['refund.succeeded']);
    await endpointFor(b.apiKey, rb, ['*']);
    const aRefund = await storedEvent(a.id, 'refund.succeeded');
    const aCharge = await storedEvent(a.id, 'charge.succeeded');
    const bCharge = await storedEvent(b.id, 'charge.succeeded');
    const bRefund = await storedEvent(b.id, 'refund.succeeded');
    // One batch across merchants, as the relay hands them over.
    assert.equal(await fanOut([aRefund, aCharge, bCharge, bRefund]), 3);
    await eventually(async () => (ra.received.length >= 1 && rb.uniqueEventIds().size >= 2 ? true : undefined), 10_000, 'deliveries');
    assert.deepEqual([...ra.uniqueEventIds()], [aRefund.id]);
    assert.deepEqual([...rb.uniqueEventIds()].sort(), [bCharge.id, bRefund.id].sort());
    assert.ok(ra.received.every((x) => x.verified) && rb.received.every((x) => x.verified), "each signed with its own endpoint's secret");
  });

  it('a deleted endpoint receives nothing more and its pending deliveries stop', async () => {
    const merchant = await createMerchant(fincore.url, 'Leaving Shop');
    const gone = await receiver();
    const kept = await receiver();
    gone.answer = 'fail';
    const goneEndpoint = await endpointFor(merchant.apiKey, gone);
    await endpointFor(merchant.apiKey, kept);
    const before = await storedEvent(merchant.id, 'refund.succeeded');
    await fanOut([before]);
    await deliveryWhen(merchant.apiKey, goneEndpoint.id, before.id, (d) => d.attempts >= 1, 'a failed attempt');

    assert.equal((await call<EndpointBody>(fincore.url, 'DELETE', `/v1/webhook_endpoints/${goneEndpoint.id}`, { key: merchant.apiKey })).status, 200);
    const receivedAtDelete = gone.received.length;
    const stopped = (await deliveries(merchant.apiKey, goneEndpoint.id)).find((d) => d.event_id === before.id);
    assert.equal(stopped?.status, 'failed');
    assert.equal(stopped?.last_error, 'endpoint deleted');
    assert.equal(stopped?.next_attempt_at, null);

    const later = await storedEvent(merchant.id, 'charge.succeeded');
    assert.equal(await fanOut([later]), 1, 'only the endpoint still enabled');
    await eventually(async () => (kept.count(later.id) > 0 ? true : undefined), 10_000, 'the enabled endpoint got the later event');
    const job = await eventually(async () => {
      const { rows } = await fincore.db.pool.query<{ status: string }>(`SELECT status FROM jobs WHERE job_type = 'WEBHOOK' AND ref = $1`, [stopped?.id]);
      return rows[0]?.status === 'done' ? rows[0] : undefined;
    }, 10_000, "the stopped delivery's job to finish");
    assert.equal(job.status, 'done');
    // An attempt already in flight at the moment of deletion may still land (at least once).
    assert.ok(gone.received.length <= receivedAtDelete + 1, `${gone.received.length} deliveries after deletion`);
    assert.equal(gone.count(later.id), 0);
    const resend = await call<ErrorBody>(fincore.url, 'POST', `/v1/webhook_endpoints/${goneEndpoint.id}/deliveries/${stopped?.id}/resend`, { key: merchant.apiKey });
    assert.equal(resend.status, 400);
  });

  it('endpoints hanging until the timeout do not slow charges and refunds (their own worker lane)', async () => {
    const slow = await createMerchant(fincore.url, 'Hanging Shop');
    const r = await receiver();
    r.answer = 'hang';
    const endpoint = await endpointFor(slow.apiKey, r);
    const events: EventRow[] = [];
    for (let i = 0; i < 12; i++) events.push(await storedEvent(slow.id, 'refund.succeeded'));
    await fanOut(events);
    // The webhook lane is full of requests that will hang for the whole timeout.
    await eventually(async () => (r.hanging.size === WEBHOOK_LANE ? true : undefined), 10_000, 'the webhook lane to fill with hanging requests');
    const laneFullAt = Date.now();
    try {
      const shop = await createMerchant(fincore.url, 'Busy Shop');
      const charge = await settledCharge(fincore.url, shop.apiKey, 9000);
      assert.equal(charge.status, 'succeeded');
      const refunds: string[] = [];
      for (let i = 0; i < 3; i++) {
        const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: shop.apiKey, body: { charge_id: charge.id, amount: 1000 } });
        assert.equal(created.status, 201);
        refunds.push(created.body.id);
      }
      for (const id of refunds) assert.equal((await waitForRefund(fincore.url, shop.apiKey, id)).status, 'succeeded');
      const elapsed = Date.now() - laneFullAt;
      // Sharing slots with the hanging deliveries, they would have waited for the timeout.
      assert.ok(elapsed < TIMEOUT_MS, `a charge and 3 refunds took ${elapsed} ms while the webhook lane hung`);
      assert.equal(r.hanging.size, WEBHOOK_LANE, 'the hanging deliveries were still in flight');
    } finally {
      await call(fincore.url, 'DELETE', `/v1/webhook_endpoints/${endpoint.id}`, { key: slow.apiKey });
      for (const res of r.hanging) res.destroy();
    }
  });

  it('a delivery still failing when its retry window ends is marked failed; its job finishes, not dead-lettered', async () => {
    const merchant = await createMerchant(fincore.url, 'Broken Shop');
    const r = await receiver();
    r.answer = 'fail';
    const endpoint = await endpointFor(merchant.apiKey, r);
    const event = await storedEvent(merchant.id, 'refund.succeeded');
    // Created (as if) 3 days minus 1.5 s ago, in the fan-out's own transaction: the default
    // 3-day window leaves room for a few attempts only.
    await fanOut([event], (tx) =>
      tx.query(`UPDATE webhook_deliveries SET created_at = now() - interval '3 days' + interval '1.5 seconds', series_started_at = now() - interval '3 days' + interval '1.5 seconds' WHERE event_id = $1`, [event.id]),
    );
    const failed = await deliveryWhen(merchant.apiKey, endpoint.id, event.id, (d) => d.status === 'failed', 'the delivery to fail', 15_000);
    assert.ok(failed.attempts >= 2, `${failed.attempts} attempts`);
    assert.equal(failed.last_response_status, 500);
    assert.equal(failed.next_attempt_at, null);
    assert.equal(r.count(event.id), failed.attempts);
    const job = await eventually(async () => {
      const { rows } = await fincore.db.pool.query<{ status: string }>(`SELECT status FROM jobs WHERE job_type = 'WEBHOOK' AND ref = $1`, [failed.id]);
      return rows[0]?.status === 'running' ? undefined : rows[0];
    }, 5000, 'job finished');
    assert.equal(job.status, 'done');
  });

  it("the README's verification snippet accepts what FinCore signs and refuses a tampered body", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Webhooks to your systems'));
    const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(snippet, 'the section has a js snippet');
    const sandbox: { require: NodeRequire; Buffer: typeof Buffer; verifyFinCoreSignature?: (body: string, header: string, secret: string) => boolean } = { require: createRequire(import.meta.url), Buffer };
    runInNewContext(`${snippet}\nthis.verifyFinCoreSignature = verifyFinCoreSignature;`, sandbox);
    const verify = sandbox.verifyFinCoreSignature;
    assert.ok(verify);
    const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'refund.succeeded' });
    const header = signWebhook('whsec_test', Math.floor(Date.now() / 1000), body);
    assert.equal(verify(body, header, 'whsec_test'), true);
    assert.equal(verify(body.replace('evt_1', 'evt_2'), header, 'whsec_test'), false);
    assert.equal(verify(body, header, 'whsec_other'), false);
    assert.equal(verify(body, signWebhook('whsec_test', Math.floor(Date.now() / 1000) - 600, body), 'whsec_test'), false);
    // And it is the logic src/webhooks/signature.ts exports.
    assert.equal(verifyWebhookSignature(body, header, 'whsec_test'), true);
  });

  it('private addresses are refused unless allowed, by literal address and by the name resolved at connect time', async () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1']) {
      assert.equal(isPrivateAddress(address), true, address);
    }
    for (const address of ['8.8.8.8', '93.184.216.34', '2606:4700::1111']) assert.equal(isPrivateAddress(address), false, address);
    const r = await receiver();
    const strict = { timeoutMs: 2000, allowPrivateNetworks: false };
    const byAddress = await postWebhook(`http://127.0.0.1:${r.port}/x`, '{}', {}, strict);
    assert.equal(byAddress.delivered, false);
    assert.match(byAddress.error ?? '', /private address/);
    const byName = await postWebhook(`http://localhost:${r.port}/x`, '{}', {}, strict);
    assert.equal(byName.delivered, false);
    assert.match(byName.error ?? '', /private address/);
    assert.equal(r.received.length, 0);
    const allowed = await postWebhook(`http://localhost:${r.port}/x`, '{"id":"evt_x"}', {}, { ...strict, allowPrivateNetworks: true });
    assert.deepEqual(allowed, { delivered: true, responseStatus: 200, error: null });
    assert.equal(r.received.length, 1);
  });

  it('a WEBHOOK job message carries a delivery id', () => {
    assert.deepEqual(parseJobMessage('{"job_id":"job_1","job_type":"WEBHOOK","ref":"whd_1","attempt":2}'), { job_id: 'job_1', job_type: 'WEBHOOK', ref: 'whd_1', attempt: 2 });
    assert.throws(() => parseJobMessage('{"job_id":"job_1","job_type":"WEBHOOK","ref":"re_1"}'), /whd_/);
  });
});

describe('merchant webhooks through the audit relay', () => {
  let fincore: TestFinCore;
  let r: Receiver;
  before(async () => {
    fincore = await startTestFinCore({ FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' });
    r = await new Receiver().listen();
  });
  after(async () => {
    await r.close();
    await fincore.stop();
  });

  it('end to end: a charge and a refund made through the API reach the endpoint via the audit relay, each event once, in sequence', async () => {
    const merchant = await createMerchant(fincore.url, 'Relay Shop');
    const endpoint = await call<EndpointBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: merchant.apiKey, body: { url: r.url, enabled_events: ['*'] } });
    r.secret = endpoint.body.secret ?? '';
    const charge = await settledCharge(fincore.url, merchant.apiKey, 4200);
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: merchant.apiKey, body: { charge_id: charge.id, amount: 1200 } });
    await waitForRefund(fincore.url, merchant.apiKey, created.body.id);
    // No test code hands events to the fan-out here: the relay beside the worker does.
    const bodies = await eventually(async () => {
      // The endpoint's own webhook_endpoint.created event reaches it too ("*"); count the money events.
      const seen = r.received.map((x) => JSON.parse(x.rawBody) as { type: string; sequence: number; data: { object_id: string } });
      return seen.filter((b) => /^(charge|refund)\./.test(b.type)).length >= 4 ? seen : undefined;
    }, 10_000, 'four deliveries');
    assert.ok(r.received.every((x) => x.verified));
    const byObject = (id: string) =>
      r.received
        .map((x) => JSON.parse(x.rawBody) as { type: string; sequence: number; data: { object_id: string } })
        .filter((b) => b.data.object_id === id)
        .map((b) => [b.type, b.sequence])
        .sort((a, b) => Number(a[1]) - Number(b[1]));
    // Every money event reached the endpoint, as stored (a PSP reference's update, when the job
    // recorded it before the settle, is one of them), numbered as stored.
    for (const id of [charge.id, created.body.id]) {
      const stored = await eventually(async () => {
        const { rows } = await fincore.db.pool.query<{ type: string; sequence: number }>('SELECT type, sequence FROM events WHERE object_id = $1 ORDER BY sequence', [id]);
        return byObject(id).length === rows.length ? rows.map((e) => [e.type, e.sequence]) : undefined;
      }, 10_000, `every event of ${id} delivered`);
      assert.deepEqual(byObject(id), stored);
    }
    assert.deepEqual(withoutReferenceUpdates(byObject(charge.id).map(([type]) => ({ type: String(type) }))).map((e) => e.type), ['charge.created', 'charge.succeeded']);
    assert.deepEqual(withoutReferenceUpdates(byObject(created.body.id).map(([type]) => ({ type: String(type) }))).map((e) => e.type), ['refund.created', 'refund.succeeded']);
    assert.equal(r.uniqueEventIds().size, r.received.length, 'each event delivered once');
    assert.ok(!bodies.some((b) => b.type === 'merchant.created'), 'nothing from before the endpoint existed');
  });

});
