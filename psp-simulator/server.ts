/**
 * A fake payment service provider over HTTP. It behaves like an outside PSP: accepts charges and
 * refunds with idempotency keys, settles them after `settleMs`, and sends HMAC-signed webhooks
 * (retried with backoff until acknowledged). It imports nothing from the rest of FinCore.
 * On the same port it also speaks a subset of Stripe's API (see stripe/index.ts).
 *
 * This file wires the parts and owns the HTTP server: native/ (charges, refunds, their store),
 * control.ts (/sim/*), settlement.ts (settle timers), fault-answers.ts (API-call faults on the
 * wire), webhook-sender.ts (delivery) and stripe/ (Stripe mode).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './body.ts';
import { controlRoute } from './control.ts';
import { createFaultAnswers, type AnswerFault } from './fault-answers.ts';
import { FaultInjector, type SimFaults } from './faults.ts';
import { createEmitter } from './native/events.ts';
import { HttpError, sendError, sendJson, sendStripeReply, tooLarge, type StoredResponse } from './native/http.ts';
import { nativeRoute } from './native/routes.ts';
import { countCreateRequest, createNativeStore } from './native/store.ts';
import { Scenarios } from './scenarios.ts';
import { createSettlement } from './settlement.ts';
import { createStripeApi, isStripeRequest, type StripeWebhookTarget } from './stripe/index.ts';
import { WebhookSender, type SimLogger } from './webhook-sender.ts';

export type { SimLogger, WebhookStats } from './webhook-sender.ts';
export type { SimCharge, SimRefund, SimDispute, SimEvent } from './objects.ts';
export type { NextReport, ScenarioSettings } from './scenarios.ts';
export type { PspSimulatorState } from './control.ts';
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

const noopLogger: SimLogger = { info: () => undefined, warn: () => undefined };

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
  const store = createNativeStore();
  const settlement = createSettlement(settleMs, logger);
  const faultAnswers = createFaultAnswers(faults);
  const scenarios = new Scenarios();

  // Stripe mode shares the settle timers, the faults and the create_requests counters.
  const stripe = createStripeApi({
    settleMs,
    later: settlement.later,
    faults,
    logger,
    webhook: options.stripe,
    countCreateRequest: (route, key) => countCreateRequest(store, route, key),
    scenarios,
  });
  const nativeDeps = { store, later: settlement.later, emit: createEmitter(faults, webhooks), logger, scenarios };
  // POST /sim/outage: the listener closes at once (a client that got the answer is refused), the
  // open connections are cut once the answer is sent (see beginOutage).
  const outageAnswers = new WeakSet<IncomingMessage>();
  const outage = (req: IncomingMessage, ms: number): void => {
    outageAnswers.add(req);
    beginOutage(ms);
  };
  const controlDeps = { store, native: nativeDeps, stripe, webhooks, faults, logger, outage };

  async function route(req: IncomingMessage): Promise<StoredResponse> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const answer = (await nativeRoute(nativeDeps, req, url, method, path)) ?? (await controlRoute(controlDeps, req, method, path));
    if (answer === null) throw new HttpError(404, 'not_found', `No route for ${method} ${path}.`);
    return answer;
  }

  /** Stripe-mode requests: same faults, Stripe-shaped answers; the key lock ends with the answer. */
  async function handleStripe(req: IncomingMessage, res: ServerResponse, url: URL, fault: AnswerFault): Promise<void> {
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
    faultAnswers.answer(req, res, fault, () => sendStripeReply(res, reply));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const path = url.pathname;
    const isApi = path.startsWith('/v1/');
    const viaStripe = isApi && isStripeRequest(req, path);
    let fault: AnswerFault = null;
    if (isApi) {
      const { latency_ms: latencyMs } = faults.settings;
      if (latencyMs > 0) await faultAnswers.delay(latencyMs);
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
      faultAnswers.answer(req, res, fault, () => {
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
    if (outageAnswers.has(req)) res.once('finish', () => server.closeAllConnections());
    faultAnswers.answer(req, res, fault, () => sendJson(res, result.status, result.body));
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

  /**
   * An outage as a client sees a PSP that is down: the listener is closed and every open socket
   * destroyed (requests in flight lose their answer: a reset; the socket of the request that
   * asked for the outage once its answer is sent), so new connections are refused
   * (ECONNREFUSED, nothing sent); after durationMs the simulator listens on the same port again.
   * Its state (objects, idempotency keys, settle timers, webhooks, which it keeps sending) is
   * kept. A second outage during one extends it to end durationMs from now.
   */
  let outageTimer: NodeJS.Timeout | null = null;
  function beginOutage(durationMs: number): void {
    if (closing !== null) return;
    if (outageTimer !== null) clearTimeout(outageTimer);
    else {
      server.close();
      // Idle kept-alive sockets now; the busy ones (requests in flight) when the answer is sent.
      server.closeIdleConnections();
      logger.info({ duration_ms: durationMs }, 'psp simulator outage: not listening');
    }
    outageTimer = setTimeout(() => listenAgain(), durationMs);
  }
  function listenAgain(): void {
    if (closing !== null) return;
    const retry = (err: Error): void => {
      // The port may be briefly held (another bind racing us): keep trying, the port is the contract.
      logger.warn({ error: err.message }, 'psp simulator: could not listen again after the outage; retrying');
      outageTimer = setTimeout(listenAgain, 50);
    };
    server.once('error', retry);
    server.listen(port, host, () => {
      server.off('error', retry);
      outageTimer = null;
      logger.info({ url }, 'psp simulator outage over: listening again');
    });
  }

  let closing: Promise<void> | null = null;
  function close(): Promise<void> {
    if (closing !== null) return closing;
    if (outageTimer !== null) clearTimeout(outageTimer);
    settlement.close();
    scenarios.close();
    faultAnswers.close();
    webhooks.stop();
    stripe.close();
    closing = new Promise<void>((resolve) => {
      // During an outage the listener is already closed (the callback then gets an error: done).
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
