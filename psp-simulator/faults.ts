/**
 * Fault injection settings for the PSP simulator: slow, failing, hanging or vanishing API answers,
 * and dropped, duplicated or reordered webhooks. Everything defaults to off. With a `seed`, every
 * random decision comes from a seeded PRNG, so a run can be reproduced.
 */

export interface SimFaults {
  /** Delay before answering every /v1/* call. */
  latency_ms: number;
  /** Fraction of /v1 POST calls answered 500 internal_error without doing anything. */
  failure_rate: number;
  /** Fraction of /v1 POST calls carried out, but answered only after `timeout_hold_ms`. */
  timeout_rate: number;
  /** How long a "timed out" answer is held. Default 30000 ms. */
  timeout_hold_ms: number;
  /** Fraction of /v1 POST calls carried out, then the socket is destroyed without an answer. */
  lost_response_rate: number;
  /** Fraction of webhook events never delivered. */
  webhook_drop_rate: number;
  /** Fraction of webhook events delivered twice (same event id). */
  webhook_duplicate_rate: number;
  /** Hold each event a random 0..200 ms before its first attempt, so events can overtake each other. */
  webhook_reorder: boolean;
  /** Seed for the PRNG behind all fault decisions; null = Math.random. */
  seed: number | null;
}

export interface FaultCounts {
  failure: number;
  timeout: number;
  lost_response: number;
  webhook_drop: number;
  webhook_duplicate: number;
}

export const DEFAULT_FAULTS: Readonly<SimFaults> = Object.freeze({
  latency_ms: 0,
  failure_rate: 0,
  timeout_rate: 0,
  timeout_hold_ms: 30_000,
  lost_response_rate: 0,
  webhook_drop_rate: 0,
  webhook_duplicate_rate: 0,
  webhook_reorder: false,
  seed: null,
});

export const REORDER_MAX_DELAY_MS = 200;

type FaultKind = 'ms' | 'rate' | 'bool' | 'seed';

const FAULT_KINDS: Readonly<Record<keyof SimFaults, FaultKind>> = {
  latency_ms: 'ms',
  failure_rate: 'rate',
  timeout_rate: 'rate',
  timeout_hold_ms: 'ms',
  lost_response_rate: 'rate',
  webhook_drop_rate: 'rate',
  webhook_duplicate_rate: 'rate',
  webhook_reorder: 'bool',
  seed: 'seed',
};

export class FaultValidationError extends Error {}

function isFaultName(name: string): name is keyof SimFaults {
  return Object.prototype.hasOwnProperty.call(FAULT_KINDS, name);
}

/** Integer that fits a 32-bit seed / timer range comfortably. */
const MAX_MS = 2_147_483_647;

function checkValue(name: keyof SimFaults, value: unknown): void {
  const kind = FAULT_KINDS[name];
  const fail = (what: string): never => {
    throw new FaultValidationError(`${name} must be ${what}, got ${JSON.stringify(value) ?? String(value)}`);
  };
  switch (kind) {
    case 'ms':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_MS) {
        fail(`an integer between 0 and ${MAX_MS}`);
      }
      return;
    case 'rate':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) fail('a number between 0 and 1');
      return;
    case 'bool':
      if (typeof value !== 'boolean') fail('a boolean');
      return;
    case 'seed':
      if (value !== null && (typeof value !== 'number' || !Number.isSafeInteger(value))) fail('an integer or null');
      return;
  }
}

/** Checks a partial fault setting (from JSON or code); throws FaultValidationError on unknown names or bad values. */
export function validateFaults(input: unknown): Partial<SimFaults> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FaultValidationError('fault settings must be a JSON object');
  }
  const out: Partial<SimFaults> = {};
  const target: Record<string, unknown> = out;
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (!isFaultName(name)) throw new FaultValidationError(`unknown fault setting: ${name}`);
    checkValue(name, value);
    target[name] = value;
  }
  return out;
}

const ENV_NAMES: ReadonlyArray<[string, keyof SimFaults]> = [
  ['FINCORE_SIM_LATENCY_MS', 'latency_ms'],
  ['FINCORE_SIM_FAILURE_RATE', 'failure_rate'],
  ['FINCORE_SIM_TIMEOUT_RATE', 'timeout_rate'],
  ['FINCORE_SIM_LOST_RESPONSE_RATE', 'lost_response_rate'],
  ['FINCORE_SIM_WEBHOOK_DROP_RATE', 'webhook_drop_rate'],
  ['FINCORE_SIM_WEBHOOK_DUPLICATE_RATE', 'webhook_duplicate_rate'],
  ['FINCORE_SIM_WEBHOOK_REORDER', 'webhook_reorder'],
  ['FINCORE_SIM_SEED', 'seed'],
];

/** Reads FINCORE_SIM_* variables; unset or empty ones are left out. Throws a clear Error on bad values. */
export function faultsFromEnv(env: NodeJS.ProcessEnv): Partial<SimFaults> {
  const out: Partial<SimFaults> = {};
  const target: Record<string, unknown> = out;
  for (const [envName, name] of ENV_NAMES) {
    const raw = env[envName]?.trim();
    if (raw === undefined || raw === '') continue;
    const kind = FAULT_KINDS[name];
    let value: unknown;
    if (kind === 'bool') {
      const lower = raw.toLowerCase();
      if (lower === '1' || lower === 'true') value = true;
      else if (lower === '0' || lower === 'false') value = false;
      else throw new Error(`Invalid ${envName}=${JSON.stringify(raw)}: expected "1", "true", "0" or "false"`);
    } else {
      const isNumber = kind === 'rate' ? /^[0-9]*\.?[0-9]+$/.test(raw) : /^-?[0-9]+$/.test(raw);
      value = isNumber ? Number(raw) : raw;
    }
    try {
      checkValue(name, value);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`Invalid ${envName}=${JSON.stringify(raw)}: ${why}`);
    }
    target[name] = value;
  }
  return out;
}

/** mulberry32: a small, fast, seeded PRNG giving floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Current fault settings plus the random source and counters. */
export class FaultInjector {
  private current: SimFaults;
  private random: () => number;
  private readonly counts: FaultCounts = { failure: 0, timeout: 0, lost_response: 0, webhook_drop: 0, webhook_duplicate: 0 };

  constructor(initial: Partial<SimFaults> | undefined) {
    this.current = { ...DEFAULT_FAULTS, ...validateFaults(initial ?? {}) };
    this.random = this.makeRandom();
  }

  get settings(): SimFaults {
    return { ...this.current };
  }

  getCounts(): FaultCounts {
    return { ...this.counts };
  }

  /** Merges a validated patch; giving `seed` (even the same one) restarts the PRNG. */
  update(patch: unknown): SimFaults {
    const valid = validateFaults(patch);
    this.current = { ...this.current, ...valid };
    if ('seed' in valid) this.random = this.makeRandom();
    return this.settings;
  }

  /** Every fault off (DEFAULT_FAULTS), whatever the start-up settings were; the counters stay. */
  reset(): SimFaults {
    this.current = { ...DEFAULT_FAULTS };
    this.random = this.makeRandom();
    return this.settings;
  }

  /** True with probability `rate`; draws from the PRNG only when rate > 0. */
  roll(rate: number): boolean {
    if (rate <= 0) return false;
    return this.random() < rate;
  }

  count(kind: keyof FaultCounts): void {
    this.counts[kind] += 1;
  }

  /** What happens to one /v1 POST call: drawn in a fixed order so a seed reproduces the run. */
  decideApiCall(): 'failure' | 'timeout' | 'lost_response' | null {
    if (this.roll(this.current.failure_rate)) return 'failure';
    if (this.roll(this.current.timeout_rate)) return 'timeout';
    if (this.roll(this.current.lost_response_rate)) return 'lost_response';
    return null;
  }

  /** What happens to one webhook event. */
  decideWebhook(): { drop: boolean; duplicate: boolean; delayMs: number } {
    const drop = this.roll(this.current.webhook_drop_rate);
    if (drop) return { drop, duplicate: false, delayMs: 0 };
    const duplicate = this.roll(this.current.webhook_duplicate_rate);
    const delayMs = this.current.webhook_reorder ? Math.floor(this.random() * (REORDER_MAX_DELAY_MS + 1)) : 0;
    return { drop, duplicate, delayMs };
  }

  private makeRandom(): () => number {
    return this.current.seed === null ? Math.random : mulberry32(this.current.seed);
  }
}
