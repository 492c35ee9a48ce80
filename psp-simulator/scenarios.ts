/**
 * The PSP's truth cases the simulator can be asked for, shared by the native API and Stripe mode
 * (issue 16): what the next charge or refund reports (another amount or currency, its webhook sent
 * before the create call answers), and how long a late refund failure waits. Set through the /sim
 * control routes (control.ts); the magic payment methods (objects.ts) use the delays.
 */
export interface NextReport {
  /** The amount (minor units) the PSP reports for the object instead of the one asked for. */
  amount?: number;
  /** The currency (lower case) the PSP reports instead of the one asked for. */
  currency?: string;
  /**
   * The object settles at once and its webhook is sent before the create call answers; the answer
   * is held `early_webhook_hold_ms`, so the merchant may not have recorded the PSP's id yet.
   */
  early_webhook?: boolean;
}

export interface ScenarioSettings {
  /** How long after success a pm_card_refundFailsLater / pm_card_refundReversed refund fails. */
  late_failure_ms: number;
  /** How long an early-webhook create call holds its answer after sending the webhook. */
  early_webhook_hold_ms: number;
}

export const DEFAULT_SCENARIO_SETTINGS: ScenarioSettings = { late_failure_ms: 200, early_webhook_hold_ms: 300 };

export type ScenarioObject = 'charge' | 'refund';

export class ScenarioError extends Error {}

const MAX_DELAY_MS = 600_000;

function delayField(body: Record<string, unknown>, field: keyof ScenarioSettings): number | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_DELAY_MS) {
    throw new ScenarioError(`${field} must be an integer number of milliseconds between 0 and ${MAX_DELAY_MS}.`);
  }
  return value;
}

/** Reads a next-report body: `{ amount?, currency?, early_webhook? }`, at least one of them. */
export function parseNextReport(body: Record<string, unknown>): NextReport {
  const allowed = new Set(['amount', 'currency', 'early_webhook']);
  for (const key of Object.keys(body)) if (!allowed.has(key)) throw new ScenarioError(`Unknown field: ${key}.`);
  const next: NextReport = {};
  if (body['amount'] !== undefined) {
    const amount = body['amount'];
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1) throw new ScenarioError('amount must be a positive integer (minor units).');
    next.amount = amount;
  }
  if (body['currency'] !== undefined) {
    const currency = body['currency'];
    if (typeof currency !== 'string' || !/^[a-zA-Z]{3}$/.test(currency)) throw new ScenarioError('currency must be a three-letter ISO 4217 code.');
    next.currency = currency.toLowerCase();
  }
  if (body['early_webhook'] !== undefined) {
    if (typeof body['early_webhook'] !== 'boolean') throw new ScenarioError('early_webhook must be a boolean.');
    next.early_webhook = body['early_webhook'];
  }
  if (Object.keys(next).length === 0) throw new ScenarioError('Give at least one of amount, currency, early_webhook.');
  return next;
}

export class Scenarios {
  private current: ScenarioSettings = { ...DEFAULT_SCENARIO_SETTINGS };
  private readonly next: Record<ScenarioObject, NextReport | null> = { charge: null, refund: null };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly holds = new Set<() => void>();
  private closed = false;

  get settings(): ScenarioSettings {
    return { ...this.current };
  }

  updateSettings(body: Record<string, unknown>): ScenarioSettings {
    for (const key of Object.keys(body)) if (!(key in DEFAULT_SCENARIO_SETTINGS)) throw new ScenarioError(`Unknown setting: ${key}.`);
    const late = delayField(body, 'late_failure_ms');
    const hold = delayField(body, 'early_webhook_hold_ms');
    this.current = { late_failure_ms: late ?? this.current.late_failure_ms, early_webhook_hold_ms: hold ?? this.current.early_webhook_hold_ms };
    return this.settings;
  }

  /** What the next created object of this kind reports (replaces an earlier one not used yet). */
  setNext(kind: ScenarioObject, report: NextReport | null): void {
    this.next[kind] = report;
  }

  peekNext(kind: ScenarioObject): NextReport | null {
    return this.next[kind];
  }

  /** The next-report setting for a create call, used up by it. */
  takeNext(kind: ScenarioObject): NextReport | null {
    const report = this.next[kind];
    this.next[kind] = null;
    return report;
  }

  /** Runs fn after ms (errors go to onError); nothing runs after close. */
  after(ms: number, fn: () => void, onError: (error: unknown) => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      try {
        fn();
      } catch (error) {
        onError(error);
      }
    }, ms);
    this.timers.add(timer);
  }

  /** Resolves after the early-webhook hold (the answer waits while the webhook goes out). */
  hold(): Promise<void> {
    const ms = this.current.early_webhook_hold_ms;
    return new Promise((resolve) => {
      if (this.closed || ms === 0) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        this.holds.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.timers.add(timer);
      this.holds.add(done);
    });
  }

  close(): void {
    this.closed = true;
    for (const done of [...this.holds]) done();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
