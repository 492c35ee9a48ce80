/**
 * A fake payment service provider over HTTP. It behaves like an outside PSP: accepts charges and
 * refunds with idempotency keys, settles them after `settleMs`, and sends HMAC-signed webhooks
 * (retried with backoff until acknowledged). It imports nothing from the rest of FinCore.
 * On the same port it also speaks a subset of Stripe's API (see stripe/index.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  PAYMENT_METHODS,
  newId,
  type SimCharge,
  type SimEvent,
  type SimRefund,
} from './objects.ts';
import { readBody } from './body.ts';
import { WebhookSender, type SimLogger, type WebhookStats } from './webhook-sender.ts';
import { FaultInjector, FaultValidationError, type FaultCounts, type SimFaults } from './faults.ts';
import { createStripeApi, isStripeRequest, type StripeReply, type StripeWebhookTarget } from './stripe/index.ts';

export type { SimLogger, WebhookStats } from './webhook-sender.ts';
export type { SimCharge, SimRefund, SimEvent } from './objects.ts';
export { faultsFromEnv, DEFAULT_FAULTS, type SimFaults, type FaultCounts } from './faults.ts';

export interface PspSimulatorOptions {
  /** 0 = pick an ephemeral port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where webhooks go. A function is resolved at each delivery attempt (receiver started later). */
  webhookUrl: string | (() => string);
  webhookSecret: string;
  /** Delay before a pending charge or refund settles. Default 50 ms. */
  settleMs?: number;
  logger?: SimLogger;
  /** Fault injection, all off by default; changeable at run time via POST /sim/faults, all off again via DELETE /sim/faults. */
  faults?: Partial<SimFaults>;
  /**
   * Where the Stripe-mode API sends its Stripe events, signed with `Stripe-Signature`. Without it
   * the Stripe routes still answer but their events are not sent.
   */
  stripe?: StripeWebhookTarget;
}

export interface PspSimulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface PspSimulatorState {
  /** Native charges, then Stripe-mode PaymentIntents (id `pi_...`) in the same shape. */
  charges: SimCharge[];
  /** Native refunds, then Stripe-mode refunds (`charge` = the PaymentIntent id). */
  refunds: SimRefund[];
  /** Both webhook destinations (native and Stripe) added together. */
  webhooks: WebhookStats;
  /** Create calls received per `${route} ${idempotency key}`, e.g. `charges ch_...`; replays count. */
  create_requests: Record<string, number>;
  /** Faults injected so far, per kind. */
  faults_injected: FaultCounts;
}

const MAX_AMOUNT = 99_999_999;

interface StoredResponse {
  status: number;
  body: unknown;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const noopLogger: SimLogger = { info: () => undefined, warn: () => undefined };

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

function sendStripeReply(res: ServerResponse, reply: StripeReply): void {
  if (res.headersSent) return;
  res.writeHead(reply.status, { ...reply.headers, 'Content-Length': Buffer.byteLength(reply.body) });
  res.end(reply.body);
}

function addStats(a: WebhookStats, b: WebhookStats | null): WebhookStats {
  if (b === null) return a;
  return {
    sent: a.sent + b.sent,
    acknowledged: a.acknowledged + b.acknowledged,
    pending: a.pending + b.pending,
    attempts: a.attempts + b.attempts,
    dropped: a.dropped + b.dropped,
    duplicated: a.duplicated + b.duplicated,
  };
}


function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'payload_too_large', `Request body exceeds ${limit} bytes.`);
}

function parseJsonObject(raw: Buffer): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'Request body is not valid JSON.');
  }
  if (!isObject(parsed)) throw new HttpError(400, 'invalid_json', 'Request body must be a JSON object.');
  return parsed;
}

function requireString(body: JsonObject, field: string): string {
  const value = body[field];
  if (value === undefined || value === null) {
    throw new HttpError(400, 'parameter_missing', `Missing required parameter: ${field}.`);
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw new HttpError(400, 'parameter_invalid', `${field} must be a non-empty string of at most 255 characters.`);
  }
  return value;
}

function requireAmount(body: JsonObject): number {
  const value = body['amount'];
  if (value === undefined || value === null) {
    throw new HttpError(400, 'parameter_missing', 'Missing required parameter: amount.');
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_AMOUNT) {
    throw new HttpError(400, 'parameter_invalid', `amount must be an integer between 1 and ${MAX_AMOUNT}.`);
  }
  return value;
}

function requireIdempotencyKey(req: IncomingMessage): string {
  const header = req.headers['idempotency-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || key.length === 0) {
    throw new HttpError(400, 'idempotency_key_missing', 'The Idempotency-Key header is required.');
  }
  if (key.length > 255) {
    throw new HttpError(400, 'parameter_invalid', 'The Idempotency-Key header must be at most 255 characters.');
  }
  return key;
}

export async function startPspSimulator(options: PspSimulatorOptions): Promise<PspSimulator> {
  const host = options.host ?? '127.0.0.1';
  const settleMs = options.settleMs ?? 50;
  const logger = options.logger ?? noopLogger;
  if (options.webhookSecret.length === 0) throw new Error('PSP simulator needs a non-empty webhookSecret');
  let faults: FaultInjector;
  try {
    faults = new FaultInjector(options.faults);
  } catch (err) {
    throw new Error(`PSP simulator: invalid faults option: ${err instanceof Error ? err.message : String(err)}`);
  }
  const webhooks = new WebhookSender(options.webhookUrl, options.webhookSecret, logger);

  const charges = new Map<string, SimCharge>();
  const refunds = new Map<string, SimRefund>();
  /** Each charge's refunds: the refundable check reads its charge's only, never every refund (it did: quadratic over a bench run). */
  const refundsByCharge = new Map<string, SimRefund[]>();
  const chargesByReference = new Map<string, string>();
  const refundsByReference = new Map<string, string>();
  /** `${route} ${Idempotency-Key}` -> first successful response. */
  const idempotent = new Map<string, StoredResponse>();
  /** `${route} ${Idempotency-Key}` -> how many create calls arrived (replays included). */
  const createRequests = new Map<string, number>();
  const settleTimers = new Set<NodeJS.Timeout>();
  /** Latency waits and held ("timed out") answers, cleared on close. */
  const faultTimers = new Set<NodeJS.Timeout>();
  const heldResponses = new Set<ServerResponse>();
  let closed = false;

  function faultDelay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (closed) return; // never resolves; close() cuts the socket
      const timer = setTimeout(() => {
        faultTimers.delete(timer);
        resolve();
      }, ms);
      faultTimers.add(timer);
    });
  }

  function later(fn: () => void): void {
    if (closed) return;
    const timer = setTimeout(() => {
      settleTimers.delete(timer);
      if (closed) return;
      try {
        fn();
      } catch (err) {
        logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'psp simulator settle failed');
      }
    }, settleMs);
    settleTimers.add(timer);
  }

  // Stripe mode shares the settle timers, the faults and the create_requests counters.
  const stripe = createStripeApi({
    settleMs,
    later,
    faults,
    logger,
    webhook: options.stripe,
    countCreateRequest: (route, key) => {
      const storeKey = `${route} ${key}`;
      createRequests.set(storeKey, (createRequests.get(storeKey) ?? 0) + 1);
    },
  });

  function emit(type: SimEvent['type'], object: SimCharge | SimRefund): void {
    const event: SimEvent = {
      id: newId('simevt'),
      type,
      created: Math.floor(Date.now() / 1000),
      data: { object: { ...object } },
    };
    const decision = faults.decideWebhook();
    if (decision.drop) faults.count('webhook_drop');
    if (decision.duplicate) faults.count('webhook_duplicate');
    webhooks.send(event, decision);
  }

  function refundableAmount(charge: SimCharge): number {
    let reserved = 0;
    for (const refund of refundsByCharge.get(charge.id) ?? []) {
      if (refund.status !== 'failed') reserved += refund.amount;
    }
    return charge.amount - reserved;
  }

  function createCharge(body: JsonObject): StoredResponse {
    const amount = requireAmount(body);
    const currencyRaw = requireString(body, 'currency');
    if (!/^[a-zA-Z]{3}$/.test(currencyRaw)) {
      throw new HttpError(400, 'parameter_invalid', 'currency must be a three-letter ISO 4217 code.');
    }
    const paymentMethod = requireString(body, 'payment_method');
    const reference = requireString(body, 'reference');
    const behaviour = PAYMENT_METHODS.get(paymentMethod);
    if (behaviour === undefined) {
      throw new HttpError(400, 'invalid_payment_method', `Unknown payment_method: ${paymentMethod}.`);
    }
    const charge: SimCharge = {
      id: newId('simch'),
      object: 'charge',
      reference,
      amount,
      currency: currencyRaw.toLowerCase(),
      payment_method: paymentMethod,
      status: 'pending',
      failure_code: null,
      failure_message: null,
      amount_refunded: 0,
    };
    charges.set(charge.id, charge);
    if (!chargesByReference.has(reference)) chargesByReference.set(reference, charge.id);
    logger.info({ chargeId: charge.id, reference, amount, paymentMethod }, 'psp simulator charge created');
    later(() => {
      if (behaviour.charge.status === 'succeeded') {
        charge.status = 'succeeded';
      } else {
        charge.status = 'failed';
        charge.failure_code = behaviour.charge.failureCode;
        charge.failure_message = behaviour.charge.failureMessage;
      }
      emit(charge.status === 'succeeded' ? 'charge.succeeded' : 'charge.failed', charge);
    });
    return { status: 200, body: { ...charge } };
  }

  function createRefund(body: JsonObject): StoredResponse {
    const amount = requireAmount(body);
    const reference = requireString(body, 'reference');
    let charge: SimCharge | undefined;
    if (body['charge'] !== undefined && body['charge'] !== null) {
      charge = charges.get(requireString(body, 'charge'));
    } else if (body['charge_reference'] !== undefined && body['charge_reference'] !== null) {
      const chargeId = chargesByReference.get(requireString(body, 'charge_reference'));
      charge = chargeId === undefined ? undefined : charges.get(chargeId);
    } else {
      throw new HttpError(400, 'parameter_missing', 'Missing required parameter: charge or charge_reference.');
    }
    if (charge === undefined) throw new HttpError(400, 'charge_not_found', 'No such charge.');
    if (charge.status !== 'succeeded') {
      throw new HttpError(400, 'charge_not_refundable', `Charge ${charge.id} is ${charge.status}, not succeeded.`);
    }
    const refundable = refundableAmount(charge);
    if (amount > refundable) {
      throw new HttpError(400, 'amount_too_large', `Refund amount ${amount} exceeds the refundable ${refundable}.`);
    }
    const refund: SimRefund = {
      id: newId('simre'),
      object: 'refund',
      reference,
      charge: charge.id,
      amount,
      currency: charge.currency,
      status: 'pending',
      failure_reason: null,
    };
    refunds.set(refund.id, refund);
    const ofCharge = refundsByCharge.get(charge.id);
    if (ofCharge) ofCharge.push(refund);
    else refundsByCharge.set(charge.id, [refund]);
    if (!refundsByReference.has(reference)) refundsByReference.set(reference, refund.id);
    logger.info({ refundId: refund.id, chargeId: charge.id, reference, amount }, 'psp simulator refund created');
    const refundedCharge = charge;
    const failureReason = PAYMENT_METHODS.get(charge.payment_method)?.refundFailureReason ?? null;
    later(() => {
      if (failureReason === null) {
        refund.status = 'succeeded';
        refundedCharge.amount_refunded += refund.amount;
      } else {
        refund.status = 'failed';
        refund.failure_reason = failureReason;
      }
      emit(refund.status === 'succeeded' ? 'refund.succeeded' : 'refund.failed', refund);
    });
    return { status: 200, body: { ...refund } };
  }

  async function handlePost(
    req: IncomingMessage,
    route: string,
    create: (body: JsonObject) => StoredResponse,
  ): Promise<StoredResponse> {
    const key = requireIdempotencyKey(req);
    const raw = await readBody(req, tooLarge);
    const storeKey = `${route} ${key}`;
    createRequests.set(storeKey, (createRequests.get(storeKey) ?? 0) + 1);
    const stored = idempotent.get(storeKey);
    if (stored !== undefined) return stored;
    const body = parseJsonObject(raw);
    // Only successful results are remembered (like real PSPs, a request that failed
    // validation stores nothing and may be retried with the same key).
    const result = create(body);
    idempotent.set(storeKey, result);
    return result;
  }

  function lookup<T>(url: URL, byReference: Map<string, string>, objects: Map<string, T>): StoredResponse {
    const reference = url.searchParams.get('reference');
    if (reference === null || reference.length === 0) {
      throw new HttpError(400, 'parameter_missing', 'Missing required query parameter: reference.');
    }
    const id = byReference.get(reference);
    const object = id === undefined ? undefined : objects.get(id);
    if (object === undefined) throw new HttpError(404, 'resource_missing', `No object with reference ${reference}.`);
    return { status: 200, body: object };
  }

  async function route(req: IncomingMessage): Promise<StoredResponse> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/v1/charges') {
      if (method === 'POST') return handlePost(req, 'charges', createCharge);
      if (method === 'GET') return lookup(url, chargesByReference, charges);
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
    }
    if (path === '/v1/refunds') {
      if (method === 'POST') return handlePost(req, 'refunds', createRefund);
      if (method === 'GET') return lookup(url, refundsByReference, refunds);
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
    }
    if (path === '/sim/state' && method === 'GET') {
      const state: PspSimulatorState = {
        charges: [...charges.values(), ...stripe.simCharges()],
        refunds: [...refunds.values(), ...stripe.simRefunds()],
        webhooks: addStats(webhooks.getStats(), stripe.webhookStats()),
        create_requests: Object.fromEntries(createRequests),
        faults_injected: faults.getCounts(),
      };
      return { status: 200, body: state };
    }
    if (path === '/sim/faults') {
      if (method === 'GET') return { status: 200, body: faults.settings };
      if (method === 'POST') {
        const body = parseJsonObject(await readBody(req, tooLarge));
        try {
          const settings = faults.update(body);
          logger.info({ faults: settings }, 'psp simulator faults changed');
          return { status: 200, body: settings };
        } catch (err) {
          if (err instanceof FaultValidationError) throw new HttpError(400, 'parameter_invalid', err.message);
          throw err;
        }
      }
      if (method === 'DELETE') {
        const settings = faults.reset();
        logger.info({ faults: settings }, 'psp simulator faults reset: all off');
        return { status: 200, body: settings };
      }
      throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}.`);
    }
    throw new HttpError(404, 'not_found', `No route for ${method} ${path}.`);
  }

  /** Answers now, holds the answer (timeout fault) or cuts the socket (lost_response fault). */
  function answer(
    req: IncomingMessage,
    res: ServerResponse,
    fault: 'timeout' | 'lost_response' | null,
    write: () => void,
  ): void {
    if (fault === 'lost_response') {
      faults.count('lost_response');
      req.socket.destroy();
      return;
    }
    if (fault === 'timeout') {
      faults.count('timeout');
      heldResponses.add(res);
      const timer = setTimeout(() => {
        faultTimers.delete(timer);
        heldResponses.delete(res);
        write();
      }, faults.settings.timeout_hold_ms);
      faultTimers.add(timer);
      res.on('close', () => {
        clearTimeout(timer);
        faultTimers.delete(timer);
        heldResponses.delete(res);
      });
      return;
    }
    write();
  }

  /** Stripe-mode requests: same faults, Stripe-shaped answers; the key lock ends with the answer. */
  async function handleStripe(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    fault: 'timeout' | 'lost_response' | null,
  ): Promise<void> {
    let connectionGone = false;
    const onGone = (): void => {
      connectionGone = true;
    };
    res.once('close', onGone);
    const reply = await stripe.handle(req, url);
    res.off('close', onGone);
    if (connectionGone) {
      reply.release();
      return;
    }
    res.once('close', reply.release);
    answer(req, res, fault, () => sendStripeReply(res, reply));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const path = url.pathname;
    const isApi = path.startsWith('/v1/');
    const viaStripe = isApi && isStripeRequest(req, path);
    let fault: 'timeout' | 'lost_response' | null = null;
    if (isApi) {
      const { latency_ms: latencyMs } = faults.settings;
      if (latencyMs > 0) await faultDelay(latencyMs);
      if (req.method === 'POST') {
        const decision = faults.decideApiCall();
        if (decision === 'failure') {
          // Nothing is done and no idempotency key is stored; the body is drained and dropped.
          faults.count('failure');
          await readBody(req, tooLarge).catch(() => undefined);
          if (viaStripe) sendStripeReply(res, stripe.injectedFailure());
          else sendError(res, 500, 'internal_error', 'Injected failure (PSP simulator fault injection).');
          return;
        }
        fault = decision;
      }
    }
    if (viaStripe) {
      await handleStripe(req, res, url, fault);
      return;
    }
    let result: StoredResponse;
    try {
      result = await route(req);
    } catch (err) {
      answer(req, res, fault, () => {
        if (err instanceof HttpError) {
          sendError(res, err.status, err.code, err.message);
          if (err.status === 413) req.resume();
          return;
        }
        logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'psp simulator request failed');
        sendError(res, 500, 'internal_error', 'Internal simulator error.');
      });
      return;
    }
    answer(req, res, fault, () => sendJson(res, result.status, result.body));
  }

  const server = createServer((req, res) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    handle(req, res).catch((err: unknown) => {
      logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'psp simulator request failed');
      sendError(res, 500, 'internal_error', 'Internal simulator error.');
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(options.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.warn({ error: err.message }, 'psp simulator server error'));

  const address = server.address() as AddressInfo;
  const port = address.port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  const describeUrl = (target: string | (() => string)): string => (typeof target === 'string' ? target : '(resolved per delivery)');
  logger.info(
    {
      url,
      webhookUrl: describeUrl(options.webhookUrl),
      stripeWebhookUrl: options.stripe === undefined ? null : describeUrl(options.stripe.webhookUrl),
      settleMs,
    },
    'psp simulator listening',
  );

  let closing: Promise<void> | null = null;
  function close(): Promise<void> {
    if (closing !== null) return closing;
    closed = true;
    for (const timer of settleTimers) clearTimeout(timer);
    settleTimers.clear();
    for (const timer of faultTimers) clearTimeout(timer);
    faultTimers.clear();
    for (const res of heldResponses) res.socket?.destroy();
    heldResponses.clear();
    webhooks.stop();
    stripe.close();
    closing = new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Requests still in flight get a short grace period, then their sockets are cut.
      const force = setTimeout(() => server.closeAllConnections(), 200);
      force.unref();
    });
    return closing;
  }

  return { url, port, close };
}
