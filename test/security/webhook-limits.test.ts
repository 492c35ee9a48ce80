/**
 * Issue 14, "outbound merchant webhooks have no limits": the endpoint cap, fair scheduling of the
 * webhook lane across merchants, the per-merchant in-flight cap, the per-endpoint circuit breaker,
 * rate-limited failure logs; and the two Low items: audit events for endpoint create/delete, and
 * secret rotation with an overlap window. Real FinCore over HTTP, real receivers on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { appendEvent, type EventRow } from '../../src/db/events.ts';
import { inTransaction } from '../../src/db/pool.ts';
import { claimWebhookJobs, nextMerchantWindow } from '../../src/db/jobs.ts';
import { RetryAfter } from '../../src/jobs/backoff.ts';
import { FailureLog } from '../../src/jobs/failure-log.ts';
import { logRetry } from '../../src/jobs/worker.ts';
import { afterAttempt, CLOSED, gate, type BreakerSettings, type BreakerState } from '../../src/domain/webhook-breaker.ts';
import { fanOutEvents } from '../../src/webhooks/fan-out.ts';
import { verifyWebhookSignature } from '../../src/webhooks/signature.ts';
import { call, createMerchant, eventually, startTestFinCore, type ErrorBody, type ListBody, type TestFinCore } from '../helpers.ts';
import { Receiver } from './receiver.ts';

interface EndpointBody {
  id: string;
  status: string;
  secret?: string;
  paused_until: string | null;
  disabled_reason: string | null;
  previous_secret_expires_at: string | null;
}
interface DeliveryBody {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
}
interface EventBody {
  id: string;
  type: string;
  data: { object_type: string; object_id: string; object: Record<string, unknown> };
  cause: { type: string; id: string };
}

/** Appends `count` events for the merchant and hands them to the fan-out, as the audit relay would. */
async function fanOut(fincore: TestFinCore, merchantId: string, count: number, type = 'charge.succeeded'): Promise<EventRow[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const objectId = `ch_sec_${Math.random().toString(36).slice(2)}`;
    ids.push(objectId);
    await appendEvent(fincore.db.pool, { merchantId, type, objectType: 'charge', objectId, data: { charge: { id: objectId } }, cause: { type: 'operator', id: 'test' } });
  }
  const { rows } = await fincore.db.pool.query<EventRow>('SELECT * FROM events WHERE object_id = ANY($1) ORDER BY id', [ids]);
  await inTransaction(fincore.db.pool, (tx) => fanOutEvents(tx, rows, { maxAttempts: 10_000 }));
  fincore.ctx.wakeup.jobsCommitted('WEBHOOK');
  return rows;
}

async function register(fincore: TestFinCore, apiKey: string, url: string, enabledEvents = ['charge.succeeded']): Promise<EndpointBody> {
  const created = await call<EndpointBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url, enabled_events: enabledEvents } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

async function deliveries(fincore: TestFinCore, apiKey: string, endpointId: string): Promise<DeliveryBody[]> {
  return (await call<ListBody<DeliveryBody>>(fincore.url, 'GET', `/v1/webhook_endpoints/${endpointId}/deliveries?limit=100`, { key: apiKey })).body.data;
}

async function eventsOfType(fincore: TestFinCore, apiKey: string, type: string): Promise<EventBody[]> {
  return (await call<ListBody<EventBody>>(fincore.url, 'GET', `/v1/events?type=${type}&limit=100`, { key: apiKey })).body.data;
}

const base = {
  FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
  FINCORE_WEBHOOK_BACKOFF_BASE_MS: '50',
  FINCORE_WEBHOOK_BACKOFF_MAX_MS: '200',
  FINCORE_WEBHOOK_TIMEOUT_MS: '3000',
  // The tests hand events to the fan-out themselves.
  FINCORE_AUDIT_POLL_MS: '600000',
};

describe('endpoint cap, audit events, secret rotation', () => {
  let fincore: TestFinCore;
  const receivers: Receiver[] = [];
  before(async () => {
    fincore = await startTestFinCore({ ...base, FINCORE_WEBHOOK_MAX_ENDPOINTS: '3', FINCORE_AUDIT_POLL_MS: '100' });
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await fincore.stop();
  });

  it('a merchant gets at most FINCORE_WEBHOOK_MAX_ENDPOINTS enabled endpoints, even registering concurrently; deleted ones do not count', async () => {
    const { apiKey } = await createMerchant(fincore.url, 'Capped Shop');
    const attempts = await Promise.all(
      Array.from({ length: 8 }, (_, i) => call<EndpointBody & ErrorBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: `https://shop.example/h${i}`, enabled_events: ['*'] } })),
    );
    const created = attempts.filter((a) => a.status === 201);
    const refused = attempts.filter((a) => a.status !== 201);
    assert.equal(created.length, 3, JSON.stringify(attempts.map((a) => a.status)));
    for (const answer of refused) {
      assert.equal(answer.status, 400);
      assert.deepEqual(Object.keys(answer.body.error).sort(), ['code', 'message', 'type'], 'no single parameter is at fault');
      assert.equal(answer.body.error.type, 'invalid_request_error');
      assert.equal(answer.body.error.code, 'webhook_endpoint_limit_reached');
      assert.match(answer.body.error.message, /\(3\)/);
    }
    // Another merchant has its own allowance.
    const other = await createMerchant(fincore.url, 'Uncapped Neighbour');
    assert.equal((await call(fincore.url, 'POST', '/v1/webhook_endpoints', { key: other.apiKey, body: { url: 'https://n.example/h', enabled_events: ['*'] } })).status, 201);
    // A deleted endpoint frees its place.
    assert.equal((await call(fincore.url, 'DELETE', `/v1/webhook_endpoints/${created[0]?.body.id}`, { key: apiKey })).status, 200);
    assert.equal((await call(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: 'https://shop.example/again', enabled_events: ['*'] } })).status, 201);
    assert.equal((await call(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: 'https://shop.example/one-more', enabled_events: ['*'] } })).status, 400);
  });

  it('registering and deleting an endpoint each write an event (never carrying the secret); deleting again writes none', async () => {
    const { apiKey } = await createMerchant(fincore.url, 'Audited Shop');
    const endpoint = await call<EndpointBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, headers: { 'idempotency-key': 'audit-1' }, body: { url: 'https://audit.example/h', enabled_events: ['refund.failed'] } });
    assert.equal(endpoint.status, 201);
    assert.equal((await call(fincore.url, 'DELETE', `/v1/webhook_endpoints/${endpoint.body.id}`, { key: apiKey })).status, 200);
    assert.equal((await call(fincore.url, 'DELETE', `/v1/webhook_endpoints/${endpoint.body.id}`, { key: apiKey })).status, 200);
    const created = await eventsOfType(fincore, apiKey, 'webhook_endpoint.created');
    const deleted = await eventsOfType(fincore, apiKey, 'webhook_endpoint.deleted');
    assert.equal(created.length, 1);
    assert.equal(deleted.length, 1, 'the second DELETE changed nothing and wrote nothing');
    assert.equal(created[0]?.data.object_id, endpoint.body.id);
    assert.equal(created[0]?.data.object_type, 'webhook_endpoint');
    assert.equal(created[0]?.data.object.status, 'enabled');
    assert.equal(created[0]?.cause.type, 'api_request');
    assert.equal(deleted[0]?.data.object.status, 'deleted');
    for (const event of [...created, ...deleted]) assert.ok(!JSON.stringify(event).includes('whsec_'), 'no secret in the audit trail');
    // In the database, in the same transaction as the row: the event's object is the row as committed.
    const { rows } = await fincore.db.pool.query<{ type: string; sequence: number }>('SELECT type, sequence FROM events WHERE object_id = $1 ORDER BY sequence', [endpoint.body.id]);
    assert.deepEqual(rows, [{ type: 'webhook_endpoint.created', sequence: 1 }, { type: 'webhook_endpoint.deleted', sequence: 2 }]);
  });

  it('rotate_secret: a new secret; during the overlap every delivery carries a v1= per valid secret; expires_in_seconds 0 drops the old one at once', async () => {
    const { apiKey } = await createMerchant(fincore.url, 'Rotating Shop');
    const r = await new Receiver().listen();
    receivers.push(r);
    // "*": the endpoint hears its own rotation events (the audit relay fans them out).
    const endpoint = await register(fincore, apiKey, r.url, ['*']);
    const first = endpoint.secret ?? '';

    const rotated = await call<EndpointBody>(fincore.url, 'POST', `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`, { key: apiKey, headers: { 'idempotency-key': 'rot-1' } });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const second = rotated.body.secret ?? '';
    assert.match(second, /^whsec_/);
    assert.notEqual(second, first);
    const overlapEnds = Date.parse(rotated.body.previous_secret_expires_at ?? '');
    assert.ok(Math.abs(overlapEnds - Date.now() - 86_400_000) < 60_000, 'default overlap: 24 hours');
    const replay = await call<EndpointBody>(fincore.url, 'POST', `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`, { key: apiKey, headers: { 'idempotency-key': 'rot-1' } });
    assert.equal(replay.body.secret, second, 'an idempotent replay is the same rotation');
    const read = await call<EndpointBody>(fincore.url, 'GET', `/v1/webhook_endpoints/${endpoint.id}`, { key: apiKey });
    assert.equal('secret' in read.body, false);
    assert.equal(read.body.previous_secret_expires_at, rotated.body.previous_secret_expires_at);

    const rotationEvent = await eventually(async () => (await eventsOfType(fincore, apiKey, 'webhook_endpoint.secret_rotated'))[0], 10_000, 'the rotation event');
    assert.ok(!JSON.stringify(rotationEvent).includes('whsec_'));
    const duringOverlap = await eventually(async () => r.received.find((x) => x.eventId === rotationEvent.id), 10_000, 'the rotation event delivered');
    const header = String(duringOverlap.headers['fincore-signature']);
    assert.equal(header.match(/v1=/g)?.length, 2, header);
    assert.equal(verifyWebhookSignature(duringOverlap.rawBody, header, second), true, 'verifies with the new secret');
    assert.equal(verifyWebhookSignature(duringOverlap.rawBody, header, first), true, 'and with the old one, during the overlap');
    assert.equal(verifyWebhookSignature(duringOverlap.rawBody, header, 'whsec_neither'), false);

    const immediate = await call<EndpointBody>(fincore.url, 'POST', `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`, { key: apiKey, body: { expires_in_seconds: 0 } });
    assert.equal(immediate.status, 200);
    assert.equal(immediate.body.previous_secret_expires_at, null);
    const third = immediate.body.secret ?? '';
    const secondEvent = await eventually(async () => (await eventsOfType(fincore, apiKey, 'webhook_endpoint.secret_rotated')).find((e) => e.id !== rotationEvent.id), 10_000, 'the second rotation event');
    const afterOverlap = await eventually(async () => r.received.find((x) => x.eventId === secondEvent.id), 10_000, 'the second rotation event delivered');
    const header2 = String(afterOverlap.headers['fincore-signature']);
    assert.equal(header2.match(/v1=/g)?.length, 1, header2);
    assert.equal(verifyWebhookSignature(afterOverlap.rawBody, header2, third), true);
    assert.equal(verifyWebhookSignature(afterOverlap.rawBody, header2, second), false, 'the replaced secret no longer signs');
    assert.equal(verifyWebhookSignature(afterOverlap.rawBody, header2, first), false);

    for (const [body, param] of [[{ expires_in_seconds: -1 }, 'expires_in_seconds'], [{ expires_in_seconds: 700_000 }, 'expires_in_seconds'], [{ expires_in_seconds: 'soon' }, 'expires_in_seconds'], [{ secret: 'mine' }, 'secret']] as const) {
      const bad = await call<ErrorBody>(fincore.url, 'POST', `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`, { key: apiKey, body });
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(bad.body.error.param, param);
    }
    const other = await createMerchant(fincore.url, 'Not Yours');
    assert.equal((await call<ErrorBody>(fincore.url, 'POST', `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`, { key: other.apiKey })).status, 404);
    assert.equal((await call(fincore.url, 'DELETE', `/v1/webhook_endpoints/${endpoint.id}`, { key: apiKey })).status, 200);
    const gone = await call<ErrorBody>(fincore.url, 'POST', `/v1/webhook_endpoints/${endpoint.id}/rotate_secret`, { key: apiKey });
    assert.equal(gone.status, 400);
    assert.equal(gone.body.error.code, 'parameter_invalid');
  });
});

describe('fair webhook lane', () => {
  let fincore: TestFinCore;
  const receivers: Receiver[] = [];
  before(async () => {
    // Lane of 4, per-merchant cap as large as the lane: only the claim's order can help merchant B.
    fincore = await startTestFinCore({ ...base, FINCORE_WEBHOOK_CONCURRENCY: '4', FINCORE_WEBHOOK_MERCHANT_CONCURRENCY: '4' });
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await fincore.stop();
  });

  it("another merchant's first delivery is attempted before one merchant's backlog drains", async () => {
    const a = await createMerchant(fincore.url, 'Backlog Shop');
    const b = await createMerchant(fincore.url, 'Small Shop');
    const ra = await new Receiver().listen();
    const rb = await new Receiver().listen();
    receivers.push(ra, rb);
    ra.delayMs = 50;
    await register(fincore, a.apiKey, ra.url);
    await register(fincore, b.apiKey, rb.url);
    const backlog = 80;
    await fanOut(fincore, a.id, backlog);
    await eventually(async () => (ra.received.length > 0 ? true : undefined), 10_000, "A's first delivery");
    const [bEvent] = await fanOut(fincore, b.id, 1);
    await eventually(async () => (rb.received.length > 0 ? true : undefined), 10_000, "B's delivery");
    const aBefore = ra.received.filter((x) => x.at <= (rb.received[0]?.at ?? 0)).length;
    assert.equal(rb.received[0]?.eventId, bEvent?.id);
    assert.ok(aBefore < backlog / 2, `B waited for ${aBefore} of A's ${backlog} deliveries`);
    await eventually(async () => (ra.received.length >= backlog ? true : undefined), 30_000, "A's backlog to drain");
  });
});

describe('the claim looks at a window of merchants, round robin', () => {
  let fincore: TestFinCore;
  before(async () => {
    // The database only: no worker may claim these jobs.
    fincore = await startTestFinCore({ ...base }, { api: false, worker: false, simulator: false }, undefined, { auditCheckOnStop: false });
  });
  after(async () => {
    await fincore.stop();
  });

  it('merchants waiting on backoff never hide a due job behind them: an empty window moves the cursor on, and it wraps', async () => {
    const pool = fincore.db.pool;
    // 100 merchants whose jobs wait an hour, then one (sorting last) with a job due now.
    await pool.query(
      `INSERT INTO jobs (id, job_type, ref, max_attempts, merchant_id, run_at)
       SELECT 'job_win_' || g, 'WEBHOOK', 'whd_win_' || g, 10, 'mer_win_' || lpad(g::text, 3, '0'), now() + interval '1 hour' FROM generate_series(0, 99) g`,
    );
    await pool.query(`INSERT INTO jobs (id, job_type, ref, max_attempts, merchant_id) VALUES ('job_win_due', 'WEBHOOK', 'whd_win_due', 10, 'mer_win_zzz')`);
    const window = { after: '', merchants: 8 };
    assert.deepEqual(await claimWebhookJobs(pool, 'wrk_test', 4, 30_000, 8, window), [], 'the first 8 merchants have nothing due');
    let claimed: string[] = [];
    let claims = 1;
    while (claimed.length === 0 && claims < 20) {
      window.after = await nextMerchantWindow(pool, window);
      claimed = (await claimWebhookJobs(pool, 'wrk_test', 4, 30_000, 8, window)).map((job) => job.id);
      claims += 1;
    }
    assert.deepEqual(claimed, ['job_win_due']);
    assert.ok(claims <= Math.ceil(101 / 8) + 1, `${claims} claims`);
    // At the end the window wraps to the start.
    await pool.query(`UPDATE jobs SET status = 'done' WHERE id = 'job_win_due'`);
    let after = window.after;
    for (let i = 0; i < 20 && after !== ''; i++) after = await nextMerchantWindow(pool, { after, merchants: 8 });
    assert.equal(after, '', 'wrapped around');
    await pool.query(`UPDATE jobs SET status = 'done' WHERE id LIKE 'job_win_%'`);
  });
});

describe('per-merchant in-flight cap', () => {
  let fincore: TestFinCore;
  const receivers: Receiver[] = [];
  before(async () => {
    fincore = await startTestFinCore({ ...base, FINCORE_WEBHOOK_CONCURRENCY: '4', FINCORE_WEBHOOK_MERCHANT_CONCURRENCY: '2' });
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await fincore.stop();
  });

  it("one merchant's hanging endpoints hold at most its cap of the lane; another merchant is delivered meanwhile", async () => {
    const a = await createMerchant(fincore.url, 'Hanging Shop');
    const b = await createMerchant(fincore.url, 'Healthy Shop');
    const ra = await new Receiver().listen();
    const rb = await new Receiver().listen();
    receivers.push(ra, rb);
    ra.answer = 'hang';
    const endpoint = await register(fincore, a.apiKey, ra.url);
    await register(fincore, b.apiKey, rb.url);
    await fanOut(fincore, a.id, 12);
    await eventually(async () => (ra.hanging.size >= 2 ? true : undefined), 10_000, "A's deliveries hanging");
    await fanOut(fincore, b.id, 3);
    await eventually(async () => (rb.received.length >= 3 ? true : undefined), 10_000, "B's deliveries while A hangs");
    assert.ok(ra.hanging.size > 0, "A's requests were still hanging when B's arrived");
    assert.ok(ra.maxInFlight <= 2, `A had ${ra.maxInFlight} deliveries in flight at once`);
    await call(fincore.url, 'DELETE', `/v1/webhook_endpoints/${endpoint.id}`, { key: a.apiKey });
    ra.release();
  });
});

describe('circuit breaker per endpoint', () => {
  let fincore: TestFinCore;
  const receivers: Receiver[] = [];
  const PAUSE_MS = 1500;
  before(async () => {
    fincore = await startTestFinCore({
      ...base,
      FINCORE_WEBHOOK_CONCURRENCY: '4',
      FINCORE_WEBHOOK_BREAKER_FAILURES: '5',
      FINCORE_WEBHOOK_BREAKER_OPEN_AFTER_MS: '0',
      FINCORE_WEBHOOK_BREAKER_PAUSE_MS: String(PAUSE_MS),
    });
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await fincore.stop();
  });

  it('an endpoint failing for a while is paused (visible on the endpoint), its deliveries wait, and one probe resumes it when it answers again', async () => {
    const { id: merchantId, apiKey } = await createMerchant(fincore.url, 'Failing Shop');
    const r = await new Receiver().listen();
    receivers.push(r);
    r.answer = 'fail';
    const endpoint = await register(fincore, apiKey, r.url);
    const events = await fanOut(fincore, merchantId, 20);

    const paused = await eventually(async () => {
      const e = (await call<EndpointBody>(fincore.url, 'GET', `/v1/webhook_endpoints/${endpoint.id}`, { key: apiKey })).body;
      return e.status === 'paused' ? e : undefined;
    }, 15_000, 'the endpoint to be paused');
    const seenAtPause = r.received.length;
    assert.match(paused.disabled_reason ?? '', /failed attempts in a row since .*; last: HTTP 500/);
    const pausedUntil = Date.parse(paused.paused_until ?? '');
    assert.ok(pausedUntil > Date.now() - 1000, paused.paused_until ?? 'no paused_until');
    const list = await call<ListBody<EndpointBody>>(fincore.url, 'GET', '/v1/webhook_endpoints', { key: apiKey });
    assert.equal(list.body.data[0]?.status, 'paused');

    // While paused: the attempts already in flight may land, nothing new is sent.
    await eventually(async () => (Date.now() > pausedUntil - 200 ? true : undefined), PAUSE_MS + 1000, 'the pause to run');
    const sentDuringPause = r.received.filter((x) => x.at < pausedUntil - 200).length - seenAtPause;
    assert.ok(sentDuringPause <= 4, `${sentDuringPause} attempts while paused`);
    const waiting = await deliveries(fincore, apiKey, endpoint.id);
    assert.ok(waiting.every((d) => d.status === 'pending'), 'a pause fails nothing');
    assert.ok(waiting.some((d) => d.next_attempt_at !== null && Date.parse(d.next_attempt_at) >= pausedUntil - 5), 'deliveries are due after the pause');

    r.answer = 'ok';
    await eventually(async () => {
      const all = await deliveries(fincore, apiKey, endpoint.id);
      return all.length === events.length && all.every((d) => d.status === 'succeeded') ? true : undefined;
    }, 20_000, 'every delivery after the endpoint answered again');
    const resumed = (await call<EndpointBody>(fincore.url, 'GET', `/v1/webhook_endpoints/${endpoint.id}`, { key: apiKey })).body;
    assert.deepEqual([resumed.status, resumed.paused_until, resumed.disabled_reason], ['enabled', null, null]);
    const pausedEvents = await eventsOfType(fincore, apiKey, 'webhook_endpoint.paused');
    const resumedEvents = await eventsOfType(fincore, apiKey, 'webhook_endpoint.resumed');
    assert.equal(pausedEvents.length, 1);
    assert.equal(resumedEvents.length, 1);
    assert.equal(pausedEvents[0]?.cause.type, 'job');
    assert.equal(pausedEvents[0]?.data.object.status, 'paused');
    assert.equal(resumedEvents[0]?.data.object.status, 'enabled');
  });
});

describe('breaker rules (pure)', () => {
  const settings: BreakerSettings = { failureThreshold: 5, openAfterMs: 60_000, pauseMs: 30_000 };
  const fail = { delivered: false, summary: 'HTTP 500' };
  const ok = { delivered: true, summary: 'HTTP 200' };

  it('property: a success always closes the breaker, and says "resumed" exactly when it was paused', () => {
    const state = fc.record({
      consecutive_failures: fc.nat(1000),
      failing_since: fc.option(fc.date({ noInvalidDate: true })),
      paused_until: fc.option(fc.date({ noInvalidDate: true })),
      disabled_reason: fc.option(fc.string()),
    });
    fc.assert(
      fc.property(state, fc.date({ noInvalidDate: true }), (s: BreakerState, now) => {
        const next = afterAttempt(s, ok, now, settings);
        assert.deepEqual(next.state, CLOSED);
        assert.equal(next.transition, s.paused_until === null ? null : 'resumed');
      }),
    );
  });

  it('property: failures open the breaker only at the threshold and after openAfterMs; a paused endpoint waits, then probes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30_000 }), { minLength: 1, maxLength: 40 }), (gaps) => {
        let state: BreakerState = CLOSED;
        let now = Date.UTC(2026, 0, 1);
        const start = now;
        let opened = 0;
        for (const [i, gap] of gaps.entries()) {
          now += gap;
          if (state.paused_until !== null) break;
          const next = afterAttempt(state, fail, new Date(now), settings);
          const failures = i + 1;
          assert.equal(next.state.consecutive_failures, failures);
          assert.equal(next.state.failing_since?.getTime(), start + (gaps[0] ?? 0));
          const shouldOpen = failures >= settings.failureThreshold && now - (start + (gaps[0] ?? 0)) >= settings.openAfterMs;
          assert.equal(next.transition, shouldOpen ? 'paused' : null);
          assert.equal(next.state.paused_until?.getTime() ?? null, shouldOpen ? now + settings.pauseMs : null);
          if (shouldOpen) opened += 1;
          state = next.state;
        }
        assert.ok(opened <= 1);
        if (state.paused_until !== null) {
          const until = state.paused_until.getTime();
          assert.deepEqual(gate(state, new Date(until - 1)), { action: 'wait', until: state.paused_until });
          assert.deepEqual(gate(state, new Date(until)), { action: 'probe' });
          // A failed probe pauses again, without a second "paused" event.
          const again = afterAttempt(state, fail, new Date(until + 5), settings);
          assert.equal(again.transition, null);
          assert.equal(again.state.paused_until?.getTime(), until + 5 + settings.pauseMs);
        } else {
          assert.deepEqual(gate(state, new Date(now)), { action: 'attempt' });
        }
      }),
    );
  });
});

describe('failure logs are rate-limited', () => {
  it('FailureLog: one line per key per window, with the count left out', () => {
    const log = new FailureLog(60_000);
    assert.deepEqual(log.note('we_a', 0), { log: true, suppressed: 0 });
    for (let i = 1; i < 1000; i++) assert.equal(log.note('we_a', i).log, false);
    assert.deepEqual(log.note('we_b', 10), { log: true, suppressed: 0 }, 'another endpoint has its own allowance');
    assert.deepEqual(log.note('we_a', 60_000), { log: true, suppressed: 999 });
  });

  it("2,000 failing attempts of one endpoint write one warning line, a paused endpoint's waits none", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = pino({ level: 'warn' }, sink);
    const key = `webhook:we_${Math.random().toString(36).slice(2)}`;
    for (let i = 0; i < 2000; i++) logRetry(log, new RetryAfter(100, 'HTTP 500 '.repeat(20), key), { attempt: i }, 'job failed, retrying');
    for (let i = 0; i < 2000; i++) logRetry(log, new RetryAfter(100, 'paused', key, true), { attempt: i }, 'job failed, retrying');
    assert.equal(lines.length, 1, `${lines.length} lines`);
    // Other failures (a PSP call) are not rate-limited.
    logRetry(log, new Error('psp down'), {}, 'job failed, retrying');
    assert.equal(lines.length, 2);
  });
});
