/**
 * PspGateway adapter for the FinCore PSP simulator (psp-simulator/, its own package), spoken to over HTTP.
 * Create calls carry `Idempotency-Key` = the FinCore object id, so retries never double-charge.
 */
import { Agent, request } from 'node:http';
import {
  PspPermanentError,
  PspTransientError,
  type CreateChargeRequest,
  type CreateRefundRequest,
  type PspGateway,
  type PspLookup,
  type PspOutcome,
  type PspWebhookEvent,
} from '../gateway.ts';
import { mapChargeObject, mapRefundObject, SimulatorObjectError, verifySimulatorWebhook } from './webhook.ts';

export interface SimulatorGatewayOptions {
  baseUrl: string;
  webhookSecret: string;
  /** Per-request timeout. Default 5000 ms. */
  timeoutMs?: number;
}

export const SIMULATOR_PAYMENT_METHODS: ReadonlySet<string> = new Set([
  'pm_card_visa',
  'pm_card_mastercard',
  'pm_card_chargeDeclined',
  'pm_card_refundFail',
  'pm_card_refundFailsLater',
  'pm_card_refundReversed',
]);

/**
 * Errors that mean the connection to the PSP could not be opened: refused, host name not
 * resolved (for good or for now), no route. Raised while connecting, before a byte of the
 * request is written, they make the attempt `not_sent`; the same code on a socket that was open
 * (not expected, but a kernel may report EHOSTUNREACH late) stays `network`: unknown.
 */
const NOT_CONNECTED_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** send() failed before its socket connected: the request never left FinCore. */
class NotConnected extends Error {}

/** 4xx statuses that mean "try again later" rather than "this request is wrong". */
const RETRYABLE_4XX = new Set([408, 409, 425, 429]);

interface SimResponse {
  status: number;
  body: unknown;
}

function errorDetails(body: unknown, status: number): { code: string; message: string } {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const error = (body as { error: unknown }).error;
    if (typeof error === 'object' && error !== null) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      return {
        code: typeof code === 'string' ? code : `http_${status}`,
        message: typeof message === 'string' ? message : `PSP simulator answered HTTP ${status}`,
      };
    }
  }
  return { code: `http_${status}`, message: `PSP simulator answered HTTP ${status}` };
}

export function createSimulatorGateway(options: SimulatorGatewayOptions): PspGateway {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 5000;
  const webhookSecret = options.webhookSecret;
  if (webhookSecret.length === 0) throw new Error('createSimulatorGateway: webhookSecret must not be empty');
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });

  async function call(
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, unknown>,
    idempotencyKey?: string,
  ): Promise<SimResponse> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['Idempotency-Key'] = idempotencyKey;
    const what = `${method} ${path}`;
    let status: number;
    let text: string;
    try {
      ({ status, text } = await send(method, path, headers, body === undefined ? undefined : JSON.stringify(body)));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // send() destroys a request past timeoutMs with "timed out"; a connection never opened is
      // not_sent; anything else broke an open connection (a reset, a hang-up): unknown.
      const kind = err instanceof NotConnected ? 'not_sent' : /timed out/i.test(message) ? 'timeout' : 'network';
      throw new PspTransientError(`PSP simulator ${what} failed: ${message}`, kind);
    }
    let parsed: unknown = null;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        if (status < 400) {
          throw new PspTransientError(`PSP simulator ${what} answered ${status} with a non-JSON body`, 'server_error', `HTTP ${status}`);
        }
      }
    }
    return { status, body: parsed };
  }

  /**
   * One HTTP exchange on a kept-alive connection, bounded by timeoutMs from start to last byte.
   * node:http rather than fetch: a worker makes one call per job, and fetch costs several times
   * the CPU for the same request.
   */
  function send(method: string, path: string, headers: Record<string, string>, payload: string | undefined): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${baseUrl}${path}`, { method, agent, headers: payload === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(payload)) } });
      // Whether the socket ever connected: a kept-alive socket the agent reuses already is (a
      // reset on it may come after the PSP read the request); a new one is once 'connect' fires.
      // node:http writes the request only to a connected socket.
      let connected = false;
      req.once('socket', (socket) => {
        if (!socket.connecting) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      req.on('error', (err: Error & { code?: string }) => {
        clearTimeout(timer);
        if (!connected && err.code !== undefined && NOT_CONNECTED_CODES.has(err.code)) {
          reject(Object.assign(new NotConnected(err.message), { code: err.code }));
        } else reject(err);
      });
      req.end(payload);
    });
  }

  function raiseForStatus(what: string, res: SimResponse): void {
    if (res.status >= 200 && res.status < 300) return;
    const { code, message } = errorDetails(res.body, res.status);
    if (res.status >= 400 && res.status < 500 && !RETRYABLE_4XX.has(res.status)) {
      throw new PspPermanentError(code, message);
    }
    throw new PspTransientError(`PSP simulator ${what} answered HTTP ${res.status} ${code}: ${message}`, 'server_error', `HTTP ${res.status} ${code}`);
  }

  function toOutcome(what: string, body: unknown, map: (object: unknown) => PspOutcome): PspOutcome {
    try {
      return map(body);
    } catch (err) {
      if (err instanceof SimulatorObjectError) {
        // The call may have had an effect we cannot read: the outcome is unknown, so retry later.
        throw new PspTransientError(`PSP simulator ${what} returned an unexpected body: ${err.message}`, 'server_error');
      }
      throw err;
    }
  }

  async function lookup(
    kind: 'charges' | 'refunds',
    { reference, pspReference }: PspLookup,
    map: (object: unknown) => PspOutcome,
  ): Promise<PspOutcome | null> {
    // By the PSP's id when FinCore has it (a refund made at the PSP has no FinCore reference there).
    const query = pspReference ? `id=${encodeURIComponent(pspReference)}` : `reference=${encodeURIComponent(reference)}`;
    const path = `/v1/${kind}?${query}`;
    const res = await call('GET', path);
    if (res.status === 404) return null;
    raiseForStatus(`GET /v1/${kind}`, res);
    return toOutcome(`GET /v1/${kind}`, res.body, map);
  }

  return {
    name: 'simulator',
    webhook: { path: '/v1/webhooks/psp', signatureHeader: 'FinCore-PSP-Signature' },

    supportsPaymentMethod(paymentMethod: string): boolean {
      return SIMULATOR_PAYMENT_METHODS.has(paymentMethod);
    },

    async createCharge(request: CreateChargeRequest): Promise<PspOutcome> {
      const res = await call(
        'POST',
        '/v1/charges',
        {
          amount: request.amount,
          currency: request.currency,
          payment_method: request.paymentMethod,
          reference: request.reference,
        },
        request.reference,
      );
      raiseForStatus('POST /v1/charges', res);
      return toOutcome('POST /v1/charges', res.body, mapChargeObject);
    },

    async createRefund(request: CreateRefundRequest): Promise<PspOutcome> {
      const body: Record<string, unknown> = { amount: request.amount, reference: request.reference };
      if (request.chargePspReference !== null) body['charge'] = request.chargePspReference;
      else body['charge_reference'] = request.chargeReference;
      const res = await call('POST', '/v1/refunds', body, request.reference);
      raiseForStatus('POST /v1/refunds', res);
      return toOutcome('POST /v1/refunds', res.body, mapRefundObject);
    },

    getCharge(request: PspLookup): Promise<PspOutcome | null> {
      return lookup('charges', request, mapChargeObject);
    },

    getRefund(request: PspLookup): Promise<PspOutcome | null> {
      return lookup('refunds', request, mapRefundObject);
    },

    verifyWebhook(
      rawBody: Buffer,
      headers: Record<string, string | string[] | undefined>,
      nowMs: number,
    ): PspWebhookEvent {
      return verifySimulatorWebhook(rawBody, headers, webhookSecret, nowMs);
    },
  };
}
