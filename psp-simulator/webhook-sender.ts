/**
 * Delivers signed webhook events to one URL, retrying each with exponential backoff
 * (100 ms doubling, capped at 5 s) until it gets a 2xx answer or the sender is stopped.
 * One sender per destination: the native events, and the Stripe-mode events (their own URL,
 * secret and `Stripe-Signature` header, same `t=...,v1=...` scheme).
 */
import { createHmac } from 'node:crypto';
import { Agent, request, type ClientRequest } from 'node:http';
import type { SimEvent } from './objects.ts';

/** What the sender needs of an event: an id and a type for its logs. */
export interface WebhookEvent {
  id: string;
  type: string;
}

export interface WebhookSenderOptions {
  /** Header carrying `t=<unix>,v1=<hex HMAC>`. Default FinCore-PSP-Signature. */
  signatureHeader?: string;
  /** Names the destination in log lines. Default 'psp simulator'. */
  label?: string;
}

export interface SimLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface WebhookStats {
  /** Deliveries scheduled (each counted once, however many attempts it took; a duplicate counts twice). */
  sent: number;
  /** Events answered with a 2xx. */
  acknowledged: number;
  /** Events still waiting for a 2xx. */
  pending: number;
  /** HTTP delivery attempts in total (including retries). */
  attempts: number;
  /** Events never delivered because of the webhook_drop_rate fault. */
  dropped: number;
  /** Events delivered twice because of the webhook_duplicate_rate fault (the copy counts in sent/pending too). */
  duplicated: number;
}

/** Fault decisions for one event (see faults.ts). */
export interface SendFaults {
  drop?: boolean;
  duplicate?: boolean;
  /** Extra hold before the first attempt (webhook_reorder). */
  delayMs?: number;
}

export const SIGNATURE_HEADER = 'FinCore-PSP-Signature';
const BACKOFF_START_MS = 100;
const BACKOFF_CAP_MS = 5000;
const ATTEMPT_TIMEOUT_MS = 5000;

/** Hex HMAC-SHA256 over `${t}.${rawBody}`. */
export function signPayload(secret: string, timestampSec: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestampSec}.`).update(rawBody).digest('hex');
}

export function backoffMs(attempt: number): number {
  // attempt 1 failed -> wait 100 ms, then 200, 400, ... capped at 5 s
  return Math.min(BACKOFF_START_MS * 2 ** Math.min(attempt - 1, 20), BACKOFF_CAP_MS);
}

function parseWebhookUrl(webhookUrl: string): URL {
  const url = new URL(webhookUrl);
  if (url.protocol !== 'http:') {
    throw new Error(`PSP simulator webhookUrl must be an http:// URL, got ${webhookUrl}`);
  }
  return url;
}

export class WebhookSender<E extends WebhookEvent = SimEvent> {
  private readonly webhookUrl: () => string;
  private readonly signatureHeader: string;
  private readonly label: string;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<ClientRequest>();
  // Kept-alive connections: a new TCP connection per event cost more than the event itself.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly stats: WebhookStats = {
    sent: 0,
    acknowledged: 0,
    pending: 0,
    attempts: 0,
    dropped: 0,
    duplicated: 0,
  };

  /** `webhookUrl` may be a function, resolved at each attempt (for a receiver that starts later). */
  constructor(
    webhookUrl: string | (() => string),
    private readonly secret: string,
    private readonly logger: SimLogger,
    options: WebhookSenderOptions = {},
  ) {
    this.signatureHeader = options.signatureHeader ?? SIGNATURE_HEADER;
    this.label = options.label ?? 'psp simulator';
    if (typeof webhookUrl === 'string') {
      parseWebhookUrl(webhookUrl); // fail fast on a bad static URL
      this.webhookUrl = () => webhookUrl;
    } else {
      this.webhookUrl = webhookUrl;
    }
  }

  getStats(): WebhookStats {
    return { ...this.stats };
  }

  send(event: E, faults: SendFaults = {}): void {
    if (this.stopped) return;
    if (faults.drop === true) {
      this.stats.dropped += 1;
      this.logger.warn({ eventId: event.id, type: event.type }, `${this.label} webhook dropped (fault injection)`);
      return;
    }
    const copies = faults.duplicate === true ? 2 : 1;
    if (copies === 2) this.stats.duplicated += 1;
    const rawBody = JSON.stringify(event);
    const delayMs = faults.delayMs ?? 0;
    for (let i = 0; i < copies; i += 1) {
      this.stats.sent += 1;
      this.stats.pending += 1;
      if (delayMs <= 0) {
        this.attempt(event, rawBody, 1);
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.attempt(event, rawBody, 1);
      }, delayMs);
      this.timers.add(timer);
    }
  }

  /** Stops all retries and aborts requests in flight. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const req of this.inFlight) req.destroy();
    this.inFlight.clear();
    this.agent.destroy();
  }

  private attempt(event: E, rawBody: string, attempt: number): void {
    if (this.stopped) return;
    this.stats.attempts += 1;
    const t = Math.floor(Date.now() / 1000);
    const signature = `t=${t},v1=${signPayload(this.secret, t, rawBody)}`;
    let settled = false;
    const finish = (ok: boolean, detail: object): void => {
      if (settled) return;
      settled = true;
      this.inFlight.delete(req);
      if (ok) {
        this.stats.acknowledged += 1;
        this.stats.pending -= 1;
        this.logger.info({ eventId: event.id, type: event.type, attempt, ...detail }, `${this.label} webhook acknowledged`);
        return;
      }
      this.scheduleRetry(event, rawBody, attempt, detail);
    };

    let url: URL;
    try {
      url = parseWebhookUrl(this.webhookUrl());
    } catch (err) {
      this.scheduleRetry(event, rawBody, attempt, { error: err instanceof Error ? err.message : String(err) });
      return;
    }
    const req = request(url, {
      method: 'POST',
      agent: this.agent,
      headers: {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(rawBody),
        [this.signatureHeader]: signature,
      },
    });
    this.inFlight.add(req);
    req.setTimeout(ATTEMPT_TIMEOUT_MS, () => {
      req.destroy(new Error(`timed out after ${ATTEMPT_TIMEOUT_MS} ms`));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume(); // drain and discard the body
      res.on('error', () => undefined);
      finish(status >= 200 && status < 300, { status });
    });
    req.on('error', (err) => {
      finish(false, { error: err.message });
    });
    req.end(rawBody);
  }

  private scheduleRetry(event: E, rawBody: string, attempt: number, detail: object): void {
    if (this.stopped) return;
    const delay = backoffMs(attempt);
    this.logger.warn(
      { eventId: event.id, type: event.type, attempt, retryInMs: delay, ...detail },
      `${this.label} webhook delivery failed; will retry`,
    );
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.attempt(event, rawBody, attempt + 1);
    }, delay);
    this.timers.add(timer);
  }
}
