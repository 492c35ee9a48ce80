/**
 * Fault injection in the PSP simulator, driven through the FinCore simulator adapter with a small
 * webhook receiver (see test/psp-simulator.test.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_FAULTS,
  faultsFromEnv,
  startPspSimulator,
  type PspSimulator,
  type PspSimulatorState,
  type SimFaults,
} from '../psp-simulator/index.ts';
import { createSimulatorGateway } from '../src/psp/simulator/adapter.ts';
import { PspTransientError, type PspGateway, type PspObjectEvent } from '../src/psp/gateway.ts';

const SECRET = 'whsec_faults_test';

const events: PspObjectEvent[] = [];
const verifier = createSimulatorGateway({ baseUrl: 'http://127.0.0.1:9', webhookSecret: SECRET });
let receiver: Server;
let receiverUrl = '';
const simulators: PspSimulator[] = [];
let counter = 0;

function uniqueRef(): string {
  counter += 1;
  return `ch_faults_${process.pid}_${counter}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function startSim(faults: Partial<SimFaults> = {}): Promise<PspSimulator> {
  const sim = await startPspSimulator({ port: 0, webhookUrl: receiverUrl, webhookSecret: SECRET, settleMs: 10, faults });
  simulators.push(sim);
  return sim;
}

function gatewayFor(sim: PspSimulator, timeoutMs = 2000): PspGateway {
  return createSimulatorGateway({ baseUrl: sim.url, webhookSecret: SECRET, timeoutMs });
}

async function state(sim: PspSimulator): Promise<PspSimulatorState> {
  const res = await fetch(`${sim.url}/sim/state`);
  assert.equal(res.status, 200);
  return (await res.json()) as PspSimulatorState;
}

function postFaults(sim: PspSimulator, body: unknown): Promise<Response> {
  return fetch(`${sim.url}/sim/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function setFaults(sim: PspSimulator, body: Partial<SimFaults>): Promise<SimFaults> {
  const res = await postFaults(sim, body);
  assert.equal(res.status, 200);
  return (await res.json()) as SimFaults;
}

const isTransient = (err: unknown): boolean => err instanceof PspTransientError;
const charge = (reference: string): { reference: string; amount: number; currency: string; paymentMethod: string } => ({
  reference,
  amount: 1000,
  currency: 'usd',
  paymentMethod: 'pm_card_visa',
});

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        events.push(verifier.verifyWebhook(Buffer.concat(chunks), { ...req.headers }, Date.now()) as PspObjectEvent);
        res.writeHead(200).end('{}');
      } catch {
        res.writeHead(400).end('{}');
      }
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks`;
});

after(async () => {
  await Promise.all(simulators.map((sim) => sim.close()));
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

test('faults default off; GET /sim/faults returns them and state counts zero', async () => {
  const sim = await startSim();
  const res = await fetch(`${sim.url}/sim/faults`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ...DEFAULT_FAULTS });
  assert.deepEqual((await state(sim)).faults_injected, {
    failure: 0,
    timeout: 0,
    lost_response: 0,
    webhook_drop: 0,
    webhook_duplicate: 0,
  });
});

test('failure_rate 1: PspTransientError, nothing created, key not stored; a later retry creates once', async () => {
  const sim = await startSim({ failure_rate: 1 });
  const gateway = gatewayFor(sim);
  const reference = uniqueRef();
  await assert.rejects(gateway.createCharge(charge(reference)), isTransient);
  await assert.rejects(gateway.createCharge(charge(reference)), isTransient);
  let s = await state(sim);
  assert.deepEqual(s.charges, []);
  assert.deepEqual(s.create_requests, {});
  assert.equal(s.faults_injected.failure, 2);
  // GETs are not failed by failure_rate.
  assert.equal(await gateway.getCharge({ reference, pspReference: null }), null);

  await setFaults(sim, { failure_rate: 0 });
  const created = await gateway.createCharge(charge(reference));
  assert.equal(created.status, 'pending');
  s = await state(sim);
  assert.equal(s.charges.length, 1);
  assert.equal(s.charges[0]?.id, created.pspReference);
});

test('lost_response_rate 1: client gets PspTransientError but the charge exists; retry returns it', async () => {
  const sim = await startSim({ lost_response_rate: 1 });
  const gateway = gatewayFor(sim);
  const reference = uniqueRef();
  await assert.rejects(gateway.createCharge(charge(reference)), isTransient);
  let s = await state(sim);
  assert.equal(s.charges.length, 1);
  assert.equal(s.charges[0]?.reference, reference);
  assert.equal(s.faults_injected.lost_response, 1);

  await setFaults(sim, { lost_response_rate: 0 });
  const retried = await gateway.createCharge(charge(reference));
  assert.equal(retried.pspReference, s.charges[0]?.id);
  s = await state(sim);
  assert.equal(s.charges.length, 1, 'the retry made no second charge');
  assert.equal(s.create_requests[`charges ${reference}`], 2);
});

test('timeout_rate 1 with hold 2000 ms and client timeout 200 ms: PspTransientError, object exists', async () => {
  const sim = await startSim({ timeout_rate: 1, timeout_hold_ms: 2000 });
  const gateway = gatewayFor(sim, 200);
  const reference = uniqueRef();
  const started = Date.now();
  await assert.rejects(gateway.createCharge(charge(reference)), (err: unknown) => {
    assert.ok(err instanceof PspTransientError);
    assert.match(err.message, /timed out after 200 ms/);
    return true;
  });
  assert.ok(Date.now() - started < 1500, 'the client gave up long before the hold ended');
  const s = await state(sim);
  assert.equal(s.charges.length, 1);
  assert.equal(s.faults_injected.timeout, 1);

  await setFaults(sim, { timeout_rate: 0 });
  assert.equal((await gateway.createCharge(charge(reference))).pspReference, s.charges[0]?.id);
  assert.equal((await state(sim)).charges.length, 1);
});

test('close() ends promptly while an answer is held for 30 s', async () => {
  const sim = await startSim({ timeout_rate: 1 });
  assert.equal((await (await fetch(`${sim.url}/sim/faults`)).json() as SimFaults).timeout_hold_ms, 30_000);
  const pending = gatewayFor(sim, 60_000).createCharge(charge(uniqueRef()));
  const outcome = pending.then(
    () => 'resolved',
    (err: unknown) => (err instanceof PspTransientError ? 'transient' : 'other'),
  );
  await waitForCharge(sim);
  const started = Date.now();
  await sim.close();
  assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`);
  assert.equal(await outcome, 'transient');
});

async function waitForCharge(sim: PspSimulator): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await state(sim)).charges.length === 0) {
    if (Date.now() > deadline) throw new Error('no charge appeared');
    await sleep(10);
  }
}

test('latency_ms delays /v1 calls only', async () => {
  const sim = await startSim({ latency_ms: 150 });
  let started = Date.now();
  assert.equal((await fetch(`${sim.url}/v1/charges?reference=none`)).status, 404);
  assert.ok(Date.now() - started >= 140, 'the API call was delayed');
  started = Date.now();
  await state(sim);
  assert.ok(Date.now() - started < 140, '/sim/state is not delayed');
});

test('webhook_drop_rate 1: the event is never delivered and is counted', async () => {
  const sim = await startSim({ webhook_drop_rate: 1 });
  const reference = uniqueRef();
  await gatewayFor(sim).createCharge(charge(reference));
  await sleep(300);
  assert.deepEqual(events.filter((e) => e.reference === reference), []);
  const s = await state(sim);
  assert.equal(s.charges[0]?.status, 'succeeded');
  assert.equal(s.webhooks.dropped, 1);
  assert.equal(s.webhooks.attempts, 0);
  assert.equal(s.faults_injected.webhook_drop, 1);
});

test('webhook_duplicate_rate 1: the same event id is delivered twice', async () => {
  const sim = await startSim({ webhook_duplicate_rate: 1 });
  const reference = uniqueRef();
  await gatewayFor(sim).createCharge(charge(reference));
  await waitFor('two deliveries', () => events.filter((e) => e.reference === reference).length >= 2);
  await sleep(100);
  const delivered = events.filter((e) => e.reference === reference);
  assert.equal(delivered.length, 2);
  assert.equal(delivered[0]?.eventId, delivered[1]?.eventId);
  const s = await state(sim);
  assert.equal(s.faults_injected.webhook_duplicate, 1);
  assert.equal(s.webhooks.duplicated, 1);
  assert.equal(s.webhooks.acknowledged, 2);
});

test('webhook_reorder still delivers every event exactly once', async () => {
  const sim = await startSim({ webhook_reorder: true, seed: 7 });
  const gateway = gatewayFor(sim);
  const refs = [uniqueRef(), uniqueRef(), uniqueRef()];
  for (const reference of refs) await gateway.createCharge(charge(reference));
  await waitFor('three deliveries', () => refs.every((r) => events.some((e) => e.reference === r)));
  await sleep(250);
  for (const reference of refs) assert.equal(events.filter((e) => e.reference === reference).length, 1);
});

async function failurePattern(sim: PspSimulator, tag: string): Promise<string> {
  let pattern = '';
  for (let i = 0; i < 20; i += 1) {
    const res = await fetch(`${sim.url}/v1/charges`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `${tag}_${i}` },
      body: JSON.stringify({ amount: 100, currency: 'usd', payment_method: 'pm_card_visa', reference: `${tag}_${i}` }),
    });
    await res.text();
    pattern += res.status === 500 ? 'F' : res.status === 200 ? '.' : '?';
  }
  return pattern;
}

test('the same seed gives the same sequence of fault decisions', async () => {
  const a = await startSim({ failure_rate: 0.5, seed: 42 });
  const b = await startSim({ failure_rate: 0.5, seed: 42 });
  const c = await startSim({ failure_rate: 0.5, seed: 43 });
  const first = await failurePattern(a, 'seed_a');
  assert.match(first, /^[F.]{20}$/);
  assert.match(first, /F/);
  assert.match(first, /\./);
  assert.equal(await failurePattern(b, 'seed_b'), first);
  assert.notEqual(await failurePattern(c, 'seed_c'), first);
  // Setting the seed again restarts the sequence.
  await setFaults(a, { seed: 42 });
  assert.equal(await failurePattern(a, 'seed_a2'), first);
  const s = await state(a);
  const failures = [...first].filter((ch) => ch === 'F').length;
  assert.equal(s.faults_injected.failure, failures * 2);
  assert.equal(s.charges.length, (20 - failures) * 2);
});

test('POST /sim/faults merges settings and rejects unknown names or bad values with 400', async () => {
  const sim = await startSim();
  const updated = await setFaults(sim, { failure_rate: 0.25, webhook_reorder: true });
  assert.deepEqual(updated, { ...DEFAULT_FAULTS, failure_rate: 0.25, webhook_reorder: true });
  assert.deepEqual(await setFaults(sim, { latency_ms: 0 }), updated);

  const bad: unknown[] = [
    { failureRate: 0.5 },
    { failure_rate: 1.5 },
    { timeout_rate: -0.1 },
    { lost_response_rate: '0.5' },
    { latency_ms: -1 },
    { latency_ms: 1.5 },
    { timeout_hold_ms: 'long' },
    { webhook_reorder: 'yes' },
    { seed: 1.5 },
    { failure_rate: 0.1, nope: true },
    [1, 2],
  ];
  for (const body of bad) {
    const res = await postFaults(sim, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    const json = (await res.json()) as { error: { code: string } };
    assert.ok(['parameter_invalid', 'invalid_json'].includes(json.error.code));
  }
  const garbled = await fetch(`${sim.url}/sim/faults`, { method: 'POST', body: '{oops' });
  assert.equal(garbled.status, 400);
  // Nothing half-applied from the rejected bodies.
  assert.deepEqual(await (await fetch(`${sim.url}/sim/faults`)).json(), updated);
  assert.deepEqual(await setFaults(sim, { seed: null }), updated);

  await assert.rejects(
    startPspSimulator({ port: 0, webhookUrl: receiverUrl, webhookSecret: SECRET, faults: { failure_rate: 2 } }),
    /invalid faults option: failure_rate must be a number between 0 and 1/,
  );
});

test('faultsFromEnv parses FINCORE_SIM_* variables', () => {
  assert.deepEqual(faultsFromEnv({}), {});
  assert.deepEqual(faultsFromEnv({ FINCORE_SIM_FAILURE_RATE: '', FINCORE_SIM_SEED: '  ' }), {});
  assert.deepEqual(
    faultsFromEnv({
      FINCORE_SIM_LATENCY_MS: '25',
      FINCORE_SIM_FAILURE_RATE: '0.1',
      FINCORE_SIM_TIMEOUT_RATE: '0',
      FINCORE_SIM_LOST_RESPONSE_RATE: '1',
      FINCORE_SIM_WEBHOOK_DROP_RATE: '.5',
      FINCORE_SIM_WEBHOOK_DUPLICATE_RATE: '0.25',
      FINCORE_SIM_WEBHOOK_REORDER: 'true',
      FINCORE_SIM_SEED: '-12',
      UNRELATED: 'x',
    }),
    {
      latency_ms: 25,
      failure_rate: 0.1,
      timeout_rate: 0,
      lost_response_rate: 1,
      webhook_drop_rate: 0.5,
      webhook_duplicate_rate: 0.25,
      webhook_reorder: true,
      seed: -12,
    },
  );
  assert.deepEqual(faultsFromEnv({ FINCORE_SIM_WEBHOOK_REORDER: '1' }), { webhook_reorder: true });
  assert.deepEqual(faultsFromEnv({ FINCORE_SIM_WEBHOOK_REORDER: 'false' }), { webhook_reorder: false });

  const invalid: Array<[string, string]> = [
    ['FINCORE_SIM_LATENCY_MS', '-5'],
    ['FINCORE_SIM_LATENCY_MS', '1.5'],
    ['FINCORE_SIM_LATENCY_MS', 'abc'],
    ['FINCORE_SIM_FAILURE_RATE', '1.5'],
    ['FINCORE_SIM_FAILURE_RATE', 'half'],
    ['FINCORE_SIM_TIMEOUT_RATE', '-0.1'],
    ['FINCORE_SIM_LOST_RESPONSE_RATE', '1e-1'],
    ['FINCORE_SIM_WEBHOOK_DROP_RATE', 'NaN'],
    ['FINCORE_SIM_WEBHOOK_DUPLICATE_RATE', '2'],
    ['FINCORE_SIM_WEBHOOK_REORDER', 'yes'],
    ['FINCORE_SIM_SEED', '4.2'],
    ['FINCORE_SIM_SEED', 'seed'],
  ];
  for (const [name, value] of invalid) {
    assert.throws(
      () => faultsFromEnv({ [name]: value }),
      (err: unknown) => err instanceof Error && err.message.startsWith(`Invalid ${name}=`),
      `${name}=${value}`,
    );
  }
});

test('DELETE /sim/faults turns every fault off, including those set at start-up; GET shows it', async () => {
  const sim = await startSim({ failure_rate: 1, latency_ms: 5, webhook_reorder: true, seed: 7 });
  assert.equal((await postFaults(sim, { webhook_drop_rate: 0.5 })).status, 200);
  const gateway = gatewayFor(sim);
  await assert.rejects(gateway.createCharge(charge(uniqueRef())), isTransient);

  const reset = await fetch(`${sim.url}/sim/faults`, { method: 'DELETE' });
  assert.equal(reset.status, 200);
  assert.deepEqual(await reset.json(), { ...DEFAULT_FAULTS });
  const now = await fetch(`${sim.url}/sim/faults`);
  assert.deepEqual(await now.json(), { ...DEFAULT_FAULTS });
  const created = await gateway.createCharge(charge(uniqueRef()));
  assert.ok(created.pspReference, 'the same call succeeds once the faults are off');
  // The counters are history, not settings: the failure injected before the reset is still counted.
  assert.equal((await state(sim)).faults_injected.failure, 1);
});

test('POST /sim/outage: answered 200, then connections are refused (not_sent: nothing reached it) until it listens again on the same port, with its charges kept', async () => {
  const sim = await startSim();
  const gateway = gatewayFor(sim);
  const before = await gateway.createCharge(charge(uniqueRef()));
  // A kept-alive connection is open now: the outage must cut it too.

  for (const body of [{}, { duration_ms: 0 }, { duration_ms: 1.5 }, { duration_ms: '100' }, { duration_ms: 600_001 }]) {
    const refused = await fetch(`${sim.url}/sim/outage`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(refused.status, 400, JSON.stringify(body));
  }
  const started = Date.now();
  const res = await fetch(`${sim.url}/sim/outage`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ duration_ms: 600 }) });
  assert.equal(res.status, 200);
  const answer = (await res.json()) as { outage: { duration_ms: number; until: string } };
  assert.equal(answer.outage.duration_ms, 600);

  // During the outage: refused at connect, by any client. (The adapter's kept-alive socket was
  // closed by the simulator; reused in the very same instant, before the client read the close,
  // it would hang up after the request was written: network, unknown. A moment later the agent
  // has dropped it.)
  await sleep(50);
  const refusedReference = uniqueRef();
  const error = await gateway.createCharge(charge(refusedReference)).then(() => assert.fail('answered during the outage'), (e: unknown) => e);
  assert.ok(error instanceof PspTransientError);
  assert.equal(error.kind, 'not_sent', error.message);
  assert.match(error.message, /ECONNREFUSED/);
  const raw = await fetch(`${sim.url}/sim/state`).then(() => 'answered', (e: unknown) => String((e as { cause?: { code?: string } }).cause?.code));
  assert.equal(raw, 'ECONNREFUSED');

  // After it: the same port answers, and the simulator still knows its charges.
  await waitFor('the simulator to listen again', () => Date.now() - started > 650, 5000);
  let s: PspSimulatorState | undefined;
  const deadline = Date.now() + 5000;
  while (!s) {
    s = await state(sim).catch(async () => (Date.now() > deadline ? assert.fail('not listening after the outage') : (await sleep(20), undefined)));
  }
  assert.ok(Date.now() - started >= 600, 'not before the outage ends');
  assert.ok(s.charges.some((c) => c.id === before.pspReference), 'charges made before the outage are kept');
  assert.equal(s.create_requests[`charges ${refusedReference}`], undefined, 'the refused call never reached it');
  const after = await gateway.createCharge(charge(refusedReference));
  assert.ok(after.pspReference);
});
