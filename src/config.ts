/**
 * Configuration is read from the environment once, validated, and passed down. Nothing else
 * in FinCore reads process.env.
 */
import { resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { generateAdminKey } from './admin-key.ts';
import type { LogFormatSetting } from './logging.ts';
import { isFailpoint, type Failpoint } from './api/failpoints.ts';
import type { RateLimits } from './api/plugins/rate-limit.ts';
import { isSslMode, SSL_MODES, type DatabaseTls } from './db/tls.ts';
import { isPspName, PSP_NAMES, type PspName } from './psp/adapters.ts';
import { IDEMPOTENCY_TTL_HOURS } from './domain/idempotency.ts';

export interface Config {
  host: string;
  port: number;
  /** Empty: embedded PostgreSQL (PGlite) in dataDir. */
  databaseUrl: string;
  /** `postgres`: the jobs table is the queue. `sqs`: an outbox relay publishes jobs to SQS. */
  queue: 'postgres' | 'sqs';
  sqs: {
    queueUrl: string;
    dlqUrl: string;
    /** An SQS-compatible server; empty: AWS. */
    endpoint: string;
    region: string;
    /** The queue's redrive maxReceiveCount: which receive is a job's last attempt. */
    maxReceiveCount: number;
    relayPollMs: number;
    relayBatch: number;
  };
  dataDir: string;
  /** FINCORE_URL: where the CLI reaches a running FinCore's API (default http://HOST:PORT). */
  apiUrl: string;
  adminKey: string;
  /** True when FINCORE_ADMIN_KEY is unset: embedded mode keeps a key in the data dir, a server run uses adminKey (generated) and prints it. */
  adminKeyGenerated: boolean;
  /** FINCORE_PSP: one of the adapters registered in src/psp/adapters.ts; the PSP new charges go to. */
  psp: PspName;
  /**
   * Every PSP this process serves: FINCORE_PSP first, then FINCORE_PSPS_ENABLED. A charge's
   * refunds, queries and reconciliation go to the PSP that took it (payments.psp), so a PSP that
   * still holds charges stays listed after FINCORE_PSP moves on; each one's webhook route is mounted.
   */
  psps: PspName[];
  stripe: {
    /** STRIPE_SECRET_KEY; empty is allowed only against the built-in simulator. */
    secretKey: string;
    webhookSecret: string;
    /** STRIPE_API_BASE: a Stripe-compatible server; empty: api.stripe.com, or the simulator this process starts. */
    apiBase: string;
  };
  simHost: string;
  simPort: number;
  /** Where the API reaches the simulator (defaults to the simulator this process starts). */
  simUrl: string;
  /** FINCORE_SIM_URL was given: `start` uses that outside simulator instead of starting one. */
  simUrlGiven: boolean;
  simSettleMs: number;
  /**
   * The FINCORE_SIM_* variables as given. The simulator is a package of its own (psp-simulator/):
   * its fault settings are parsed by its own faultsFromEnv when a dev entry point starts it
   * (src/dev-simulator.ts), so the core's config imports nothing from it.
   */
  simEnv: Readonly<Record<string, string>>;
  /** Where the simulator delivers webhooks; empty: the API started in this process, else defaultWebhookUrl. */
  simWebhookUrl: string;
  defaultWebhookUrl: string;
  /** Where a standalone simulator sends Stripe-mode events (FINCORE_SIM_STRIPE_WEBHOOK_URL). */
  stripeWebhookUrl: string;
  pspWebhookSecret: string;
  /**
   * The webhook secrets running on their development default (public in this repository). Only
   * ever non-empty for local development: loopback API, built-in simulator (see webhookSecrets).
   */
  devDefaultSecrets: SecretName[];
  pspTimeoutMs: number;
  worker: {
    pollIntervalMs: number;
    leaseMs: number;
    maxAttempts: number;
    batchSize: number;
    concurrency: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
  };
  reconcile: {
    afterMs: number;
    intervalMs: number;
    /** The start-up sweep over what a previous life left pending after its PSP call runs this long after start. */
    startupAfterMs: number;
    /** The terminal sweep (flows/reconcile.ts): objects settled within this window are re-read from their PSP (0: off). */
    terminalWindowMs: number;
    /** An object is re-read at most once per this long. */
    terminalRecheckMs: number;
    /** At most this many charges, and as many refunds, re-read per sweep. */
    terminalBatch: number;
    /** How often the terminal sweep runs (each worker). */
    terminalIntervalMs: number;
  };
  /** PSP events about objects FinCore does not hold yet: matched every sweep, a review item after the window. */
  parkedEvents: {
    sweepIntervalMs: number;
    windowMs: number;
  };
  /** The audit relay: seals committed events into the per-merchant hash chains. */
  audit: {
    pollIntervalMs: number;
    batchSize: number;
  };
  /** Outbound merchant webhooks (README "Webhooks to your systems"). */
  webhooks: {
    /** Hard limit on one delivery attempt, connect to last byte read. */
    timeoutMs: number;
    /** Exponential backoff with jitter between the attempts of one delivery. */
    backoffBaseMs: number;
    backoffMaxMs: number;
    /** Attempts continue while the next one starts within this long after the series began. */
    retryWindowMs: number;
    /** WEBHOOK jobs in flight at once, in their own worker lane. */
    concurrency: number;
    /** WEBHOOK jobs' max_attempts: high on purpose, the retry window ends them, not a count. */
    jobMaxAttempts: number;
    /** Deliver to loopback, private and link-local addresses (local development, tests). */
    allowPrivateNetworks: boolean;
    /** Issue 14: enabled endpoints per merchant, webhook jobs in flight per merchant, the breaker. */
    maxEndpoints: number;
    merchantConcurrency: number;
    breaker: { failureThreshold: number; openAfterMs: number; pauseMs: number };
  };
  /** Idempotency-Key records: how long they count, and the purge of expired ones. */
  idempotency: {
    /** FINCORE_IDEMPOTENCY_TTL_HOURS: never below the 24 hours the contract promises. */
    ttlHours: number;
    purgeIntervalMs: number;
    /** Rows per purge statement: each batch is one short DELETE. */
    purgeBatch: number;
  };
  dbPoolSize: number;
  /** TLS to the PostgreSQL server: PGSSLMODE and FINCORE_DB_CA_FILE (db/tls.ts). */
  dbTls: DatabaseTls;
  /**
   * Named prepared statements for the one-call writes (server only). Off behind a pooler that
   * hands each transaction a different server connection (PgBouncer in transaction mode before
   * 1.21), where a name prepared on one connection is unknown on the next.
   */
  dbNamedStatements: boolean;
  logLevel: string;
  /** FINCORE_LOG_FORMAT: `pretty`, `json`, or `auto` (pretty on a terminal outside production). */
  logFormat: LogFormatSetting;
  /** NODE_ENV, for the log format's `auto`. */
  nodeEnv: string | undefined;
  bodyLimitBytes: number;
  /** The API's HTTP server limits (README "Configuration"); timeouts in ms, 0 = none. */
  http: HttpLimits;
  /** Request rate limits per API process (api/plugins/rate-limit.ts; README "Rate limits"). */
  rateLimits: RateLimits;
  /** FINCORE_TRUST_PROXY: whose X-Forwarded-For names the client (false: nobody's; the TCP peer is the client). */
  trustProxy: boolean | number | string[];
  /** FINCORE_API_KEY_CACHE_MS: how long a revoked API key may still work in another API process. */
  apiKeyCacheMs: number;
  /** FINCORE_FAILPOINTS: crash points armed for tests; empty in any real deployment. */
  failpoints: Failpoint[];
}

export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxRequestsPerSocket: number;
  maxConnections: number;
}

export class ConfigError extends Error {}

/**
 * Development values of the webhook secrets. They are in the public source, so anyone can sign
 * with them: they are accepted only where nobody else can reach the intake (see webhookSecrets).
 */
export const DEV_WEBHOOK_SECRETS = {
  FINCORE_PSP_WEBHOOK_SECRET: 'whsec_fincore_simulator_dev_only',
  STRIPE_WEBHOOK_SECRET: 'whsec_fincore_stripe_simulator_dev_only',
} as const;
export type SecretName = keyof typeof DEV_WEBHOOK_SECRETS;

/** `localhost`, `localhost.` or an address in 127.0.0.0/8 or ::1 (IPv4-mapped forms included). */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (name === 'localhost' || name === 'localhost.') return true;
  if (!ipaddr.isValid(name)) return false;
  const address = ipaddr.process(name);
  return address.range() === 'loopback';
}

function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

interface SecretRule {
  name: SecretName;
  /** Whether this process verifies webhooks with the secret (the configured PSP's intake). */
  verifies: boolean;
  /** Local development: only this machine can reach the intake and the PSP is the simulator. */
  local: boolean;
  /** Why the default is refused, for the error message. */
  where: string;
}

/**
 * A webhook secret: set and non-empty, or the development default where that is safe. An empty
 * value is always an error (a secret store's unfilled placeholder must not mean "default"), and
 * the development value itself is refused wherever the default would be.
 */
function webhookSecret(env: NodeJS.ProcessEnv, rule: SecretRule): { value: string; devDefault: boolean } {
  const raw = env[rule.name];
  const devValue = DEV_WEBHOOK_SECRETS[rule.name];
  const allowed = rule.local || !rule.verifies;
  if (raw !== undefined && raw !== devValue) return { value: raw, devDefault: false };
  if (!allowed) {
    const what = raw === undefined ? 'is not set' : 'is the development default, which is public';
    throw new ConfigError(`${rule.name} ${what}: ${rule.where}, so it must be set to the secret your PSP signs webhooks with. The development default is accepted only with the built-in simulator on loopback (npm start).`);
  }
  return { value: devValue, devDefault: true };
}

/**
 * Which webhook secrets this process uses, and whether each may be its development default.
 * The rule holds for every configured PSP (FINCORE_PSP and FINCORE_PSPS_ENABLED): each one's
 * intake verifies with its secret. Local development means: the API listens on loopback only, and
 * the PSP it verifies is the simulator on loopback (simulator, or stripe played by the simulator:
 * no STRIPE_API_BASE and no key, or a loopback STRIPE_API_BASE with no live key).
 */
function webhookSecrets(env: NodeJS.ProcessEnv, psps: readonly PspName[], host: string, simUrl: string): { psp: string; stripe: string; devDefaults: SecretName[] } {
  for (const name of Object.keys(DEV_WEBHOOK_SECRETS) as SecretName[]) {
    if (env[name] === '') {
      throw new ConfigError(`${name} is set but empty: an empty secret never means the development default. Set the secret your PSP signs webhooks with, or unset it for local development.`);
    }
  }
  const apiLocal = isLoopbackHost(host);
  const apiWhere = apiLocal ? '' : `the API listens on ${host}, beyond this machine`;
  const stripeKey = str(env, 'STRIPE_SECRET_KEY', '');
  const stripeBase = str(env, 'STRIPE_API_BASE', '');
  const liveKey = /^(sk|rk)_live_/.test(stripeKey);
  const stripeIsSimulator = stripeBase === '' ? stripeKey === '' : isLoopbackUrl(stripeBase) && !liveKey;
  const simulatorLocal = isLoopbackUrl(simUrl);
  const pspSecret = webhookSecret(env, {
    name: 'FINCORE_PSP_WEBHOOK_SECRET',
    verifies: psps.includes('simulator'),
    local: apiLocal && simulatorLocal,
    where: apiWhere || `the PSP simulator is at ${simUrl}, not on loopback`,
  });
  const stripeSecret = webhookSecret(env, {
    name: 'STRIPE_WEBHOOK_SECRET',
    verifies: psps.includes('stripe'),
    local: apiLocal && stripeIsSimulator,
    where: apiWhere || (liveKey ? 'STRIPE_SECRET_KEY is a live key' : 'the stripe PSP (FINCORE_PSP or FINCORE_PSPS_ENABLED) talks to Stripe (STRIPE_API_BASE is not the simulator on loopback)'),
  });
  const devDefaults: SecretName[] = [];
  if (pspSecret.devDefault) devDefaults.push('FINCORE_PSP_WEBHOOK_SECRET');
  if (stripeSecret.devDefault) devDefaults.push('STRIPE_WEBHOOK_SECRET');
  return { psp: pspSecret.value, stripe: stripeSecret.value, devDefaults };
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = str(env, name, String(fallback));
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be "true" or "false", got "${raw}"`);
  return raw === 'true';
}

function str(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

function simEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (name.startsWith('FINCORE_SIM_') && value !== undefined) out[name] = value;
  return out;
}

function failpoints(env: NodeJS.ProcessEnv): Failpoint[] {
  const names = str(env, 'FINCORE_FAILPOINTS', '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of names) if (!isFailpoint(name)) throw new ConfigError(`FINCORE_FAILPOINTS: unknown failpoint "${name}"`);
  return names.filter(isFailpoint);
}

/**
 * DATABASE_URL, or else libpq's PGHOST/PGPORT/PGDATABASE/PGUSER/PGPASSWORD (how ECS injects the
 * RDS secret's fields). Neither: embedded.
 */
function databaseUrl(env: NodeJS.ProcessEnv): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (!env.PGHOST) return '';
  const user = encodeURIComponent(str(env, 'PGUSER', 'postgres'));
  const password = env.PGPASSWORD ? `:${encodeURIComponent(env.PGPASSWORD)}` : '';
  return `postgres://${user}${password}@${env.PGHOST}:${int(env, 'PGPORT', 5432, 1, 65535)}/${encodeURIComponent(str(env, 'PGDATABASE', 'postgres'))}`;
}

export function httpLimits(env: NodeJS.ProcessEnv): HttpLimits {
  const headersTimeoutMs = int(env, 'FINCORE_HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000);
  const requestTimeoutMs = int(env, 'FINCORE_HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  // Node refuses a headers timeout longer than the whole request's.
  if (headersTimeoutMs > requestTimeoutMs) throw new ConfigError(`FINCORE_HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed FINCORE_HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    connectionTimeoutMs: int(env, 'FINCORE_HTTP_CONNECTION_TIMEOUT_MS', 120_000, 0, 3_600_000),
    // Above the AWS ALB's 60 s idle timeout: the balancer, not FinCore, closes idle connections.
    keepAliveTimeoutMs: int(env, 'FINCORE_HTTP_KEEP_ALIVE_TIMEOUT_MS', 72_000, 1, 3_600_000),
    maxRequestsPerSocket: int(env, 'FINCORE_HTTP_MAX_REQUESTS_PER_SOCKET', 0, 0, 1_000_000),
    maxConnections: int(env, 'FINCORE_HTTP_MAX_CONNECTIONS', 2048, 1, 1_000_000),
  };
}

function queue(env: NodeJS.ProcessEnv): Config['queue'] {
  const name = str(env, 'FINCORE_QUEUE', 'postgres');
  if (name !== 'postgres' && name !== 'sqs') throw new ConfigError(`FINCORE_QUEUE must be "postgres" or "sqs", got "${name}"`);
  if (name === 'sqs' && !env.FINCORE_SQS_QUEUE_URL) throw new ConfigError('FINCORE_QUEUE=sqs needs FINCORE_SQS_QUEUE_URL');
  return name;
}

function webhooks(env: NodeJS.ProcessEnv): Config['webhooks'] {
  // Keep it below FINCORE_JOB_LEASE_MS: an attempt outliving its job's lease may be sent a second
  // time by another worker (harmless for a receiver that drops copies by event id, but wasteful).
  const timeoutMs = int(env, 'FINCORE_WEBHOOK_TIMEOUT_MS', 10_000, 10, 600_000);
  return {
    timeoutMs,
    backoffBaseMs: int(env, 'FINCORE_WEBHOOK_BACKOFF_BASE_MS', 30_000, 1, 3_600_000),
    backoffMaxMs: int(env, 'FINCORE_WEBHOOK_BACKOFF_MAX_MS', 3_600_000, 1, 86_400_000),
    retryWindowMs: int(env, 'FINCORE_WEBHOOK_RETRY_WINDOW_MS', 3 * 86_400_000, 1000, 30 * 86_400_000),
    concurrency: int(env, 'FINCORE_WEBHOOK_CONCURRENCY', 16, 1, 10_000),
    jobMaxAttempts: 10_000,
    allowPrivateNetworks: bool(env, 'FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS', false),
    maxEndpoints: int(env, 'FINCORE_WEBHOOK_MAX_ENDPOINTS', 16, 1, 1000),
    merchantConcurrency: int(env, 'FINCORE_WEBHOOK_MERCHANT_CONCURRENCY', 8, 1, 10_000),
    breaker: {
      failureThreshold: int(env, 'FINCORE_WEBHOOK_BREAKER_FAILURES', 10, 1, 100_000),
      openAfterMs: int(env, 'FINCORE_WEBHOOK_BREAKER_OPEN_AFTER_MS', 60_000, 0, 86_400_000),
      pauseMs: int(env, 'FINCORE_WEBHOOK_BREAKER_PAUSE_MS', 60_000, 100, 86_400_000),
    },
  };
}

function dbTls(env: NodeJS.ProcessEnv): DatabaseTls {
  const mode = str(env, 'PGSSLMODE', '');
  if (mode !== '' && !isSslMode(mode)) throw new ConfigError(`PGSSLMODE must be one of ${SSL_MODES.join(', ')}, got "${mode}"`);
  return { sslMode: mode === '' ? undefined : mode, caFile: str(env, 'FINCORE_DB_CA_FILE', '') };
}

function rateLimits(env: NodeJS.ProcessEnv): RateLimits {
  return {
    // One API process serves ~340-550 requests/s (bench/README.md): one merchant may take a fifth
    // to a third of that, so a flood from one leaves the others most of the process.
    merchantPerSecond: int(env, 'FINCORE_RATE_LIMIT_PER_S', 100, 0, 1_000_000),
    adminPerSecond: int(env, 'FINCORE_RATE_LIMIT_ADMIN_PER_S', 200, 0, 1_000_000),
    webhookPerSecond: int(env, 'FINCORE_RATE_LIMIT_WEBHOOK_PER_S', 1000, 0, 1_000_000),
    addressPerSecond: int(env, 'FINCORE_RATE_LIMIT_ADDRESS_PER_S', 50, 0, 1_000_000),
    authFailures: int(env, 'FINCORE_RATE_LIMIT_AUTH_FAILURES', 20, 0, 1_000_000),
    authFailureWindowMs: int(env, 'FINCORE_RATE_LIMIT_AUTH_FAILURE_WINDOW_S', 60, 1, 86_400) * 1000,
  };
}

/**
 * `false` (default): the TCP peer is the client. `true`: trust every X-Forwarded-For hop (only
 * when nothing but the proxy can reach the process). A number: trust that many proxy hops.
 * Otherwise a comma-separated list of proxy addresses or CIDRs (e.g. the VPC's, for the ALB).
 */
function trustProxy(env: NodeJS.ProcessEnv): Config['trustProxy'] {
  const raw = str(env, 'FINCORE_TRUST_PROXY', 'false').trim();
  if (raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return int(env, 'FINCORE_TRUST_PROXY', 0, 0, 100);
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  for (const entry of entries) {
    const valid = entry.includes('/') ? isValidCidr(entry) : ipaddr.isValid(entry);
    if (!valid) throw new ConfigError(`FINCORE_TRUST_PROXY: "${entry}" is not an IP address or CIDR (or use true, false, a hop count)`);
  }
  return entries;
}

function isValidCidr(entry: string): boolean {
  try {
    ipaddr.parseCIDR(entry);
    return true;
  } catch {
    return false;
  }
}

/**
 * FINCORE_PSP, then the further PSPs FINCORE_PSPS_ENABLED lists (comma-separated adapter names):
 * PSPs that take no new charges but whose charges FinCore still refunds, queries and reconciles,
 * and whose webhooks it still accepts. Listing FINCORE_PSP there too is harmless.
 */
function enabledPsps(env: NodeJS.ProcessEnv, psp: PspName): PspName[] {
  const out: PspName[] = [psp];
  for (const name of str(env, 'FINCORE_PSPS_ENABLED', '').split(',').map((n) => n.trim()).filter((n) => n !== '')) {
    if (!isPspName(name)) throw new ConfigError(`FINCORE_PSPS_ENABLED: unknown PSP "${name}" (known: ${PSP_NAMES.join(', ')})`);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

function logFormat(env: NodeJS.ProcessEnv): LogFormatSetting {
  const value = str(env, 'FINCORE_LOG_FORMAT', 'auto');
  if (value !== 'auto' && value !== 'pretty' && value !== 'json') throw new ConfigError(`FINCORE_LOG_FORMAT must be "auto", "pretty" or "json", got "${value}"`);
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const host = str(env, 'HOST', '127.0.0.1');
  const port = int(env, 'PORT', 3000, 0, 65535);
  const simHost = str(env, 'FINCORE_SIM_HOST', '127.0.0.1');
  const simPort = int(env, 'FINCORE_SIM_PORT', 4010, 0, 65535);
  const psp = str(env, 'FINCORE_PSP', 'simulator');
  if (!isPspName(psp)) throw new ConfigError(`FINCORE_PSP must be ${PSP_NAMES.map((name) => `"${name}"`).join(' or ')}, got "${psp}"`);
  const psps = enabledPsps(env, psp);
  const providedAdminKey = env.FINCORE_ADMIN_KEY ?? '';
  const apiHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const simUrl = str(env, 'FINCORE_SIM_URL', `http://${simHost}:${simPort}`);
  const secrets = webhookSecrets(env, psps, host, simUrl);
  return {
    host,
    port,
    databaseUrl: databaseUrl(env),
    queue: queue(env),
    sqs: {
      queueUrl: str(env, 'FINCORE_SQS_QUEUE_URL', ''),
      dlqUrl: str(env, 'FINCORE_SQS_DLQ_URL', ''),
      endpoint: str(env, 'FINCORE_SQS_ENDPOINT', ''),
      region: str(env, 'AWS_REGION', str(env, 'AWS_DEFAULT_REGION', 'us-east-1')),
      maxReceiveCount: int(env, 'FINCORE_SQS_MAX_RECEIVE_COUNT', 5, 1, 1000),
      relayPollMs: int(env, 'FINCORE_RELAY_POLL_MS', 1000, 10, 600_000),
      relayBatch: int(env, 'FINCORE_RELAY_BATCH', 100, 1, 10_000),
    },
    dataDir: resolve(str(env, 'FINCORE_DATA_DIR', './.fincore')),
    apiUrl: str(env, 'FINCORE_URL', `http://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${port}`),
    adminKey: providedAdminKey || generateAdminKey(),
    adminKeyGenerated: providedAdminKey === '',
    psp,
    psps,
    stripe: {
      secretKey: str(env, 'STRIPE_SECRET_KEY', ''),
      webhookSecret: secrets.stripe,
      apiBase: str(env, 'STRIPE_API_BASE', ''),
    },
    simHost,
    simPort,
    simUrl,
    simUrlGiven: str(env, 'FINCORE_SIM_URL', '') !== '',
    simSettleMs: int(env, 'FINCORE_SIM_SETTLE_MS', 50, 0, 3_600_000),
    simEnv: simEnv(env),
    simWebhookUrl: str(env, 'FINCORE_SIM_WEBHOOK_URL', ''),
    defaultWebhookUrl: `http://${apiHost}:${port}/v1/webhooks/psp`,
    stripeWebhookUrl: str(env, 'FINCORE_SIM_STRIPE_WEBHOOK_URL', `http://${apiHost}:${port}/v1/webhooks/stripe`),
    // The simulator and the API share this secret.
    pspWebhookSecret: secrets.psp,
    devDefaultSecrets: secrets.devDefaults,
    pspTimeoutMs: int(env, 'FINCORE_PSP_TIMEOUT_MS', 5000, 1, 600_000),
    worker: {
      pollIntervalMs: int(env, 'FINCORE_WORKER_POLL_MS', 1000, 10, 600_000),
      leaseMs: int(env, 'FINCORE_JOB_LEASE_MS', 30_000, 100, 3_600_000),
      maxAttempts: int(env, 'FINCORE_JOB_MAX_ATTEMPTS', 8, 1, 100),
      batchSize: int(env, 'FINCORE_WORKER_BATCH', 16, 1, 1000),
      concurrency: int(env, 'FINCORE_WORKER_CONCURRENCY', 64, 1, 10_000),
      backoffBaseMs: int(env, 'FINCORE_JOB_BACKOFF_BASE_MS', 500, 1, 3_600_000),
      backoffMaxMs: int(env, 'FINCORE_JOB_BACKOFF_MAX_MS', 300_000, 1, 86_400_000),
    },
    reconcile: {
      afterMs: int(env, 'FINCORE_RECONCILE_AFTER_MS', 30_000, 0, 86_400_000),
      intervalMs: int(env, 'FINCORE_RECONCILE_INTERVAL_MS', 10_000, 10, 86_400_000),
      startupAfterMs: int(env, 'FINCORE_RECONCILE_AT_START_MS', 1000, 0, 600_000),
      terminalWindowMs: int(env, 'FINCORE_RECONCILE_TERMINAL_WINDOW_MS', 7 * 86_400_000, 0, 90 * 86_400_000),
      terminalRecheckMs: int(env, 'FINCORE_RECONCILE_TERMINAL_RECHECK_MS', 86_400_000, 0, 30 * 86_400_000),
      terminalBatch: int(env, 'FINCORE_RECONCILE_TERMINAL_BATCH', 100, 1, 10_000),
      terminalIntervalMs: int(env, 'FINCORE_RECONCILE_TERMINAL_INTERVAL_MS', 60_000, 10, 86_400_000),
    },
    parkedEvents: {
      sweepIntervalMs: int(env, 'FINCORE_PARKED_EVENT_SWEEP_MS', 5000, 10, 86_400_000),
      windowMs: int(env, 'FINCORE_PARKED_EVENT_WINDOW_MS', 3_600_000, 0, 30 * 86_400_000),
    },
    audit: {
      pollIntervalMs: int(env, 'FINCORE_AUDIT_POLL_MS', 200, 10, 600_000),
      batchSize: int(env, 'FINCORE_AUDIT_BATCH', 500, 1, 10_000),
    },
    webhooks: webhooks(env),
    idempotency: {
      ttlHours: int(env, 'FINCORE_IDEMPOTENCY_TTL_HOURS', IDEMPOTENCY_TTL_HOURS.default, IDEMPOTENCY_TTL_HOURS.min, IDEMPOTENCY_TTL_HOURS.max),
      purgeIntervalMs: int(env, 'FINCORE_IDEMPOTENCY_PURGE_INTERVAL_MS', 60_000, 10, 86_400_000),
      purgeBatch: int(env, 'FINCORE_IDEMPOTENCY_PURGE_BATCH', 500, 1, 10_000),
    },
    dbPoolSize: int(env, 'FINCORE_DB_POOL_SIZE', 8, 1, 200),
    dbTls: dbTls(env),
    dbNamedStatements: bool(env, 'FINCORE_DB_NAMED_STATEMENTS', true),
    logLevel: str(env, 'LOG_LEVEL', 'info'),
    logFormat: logFormat(env),
    nodeEnv: env.NODE_ENV,
    bodyLimitBytes: int(env, 'FINCORE_BODY_LIMIT_BYTES', 64 * 1024, 1024, 10 * 1024 * 1024),
    http: httpLimits(env),
    rateLimits: rateLimits(env),
    trustProxy: trustProxy(env),
    apiKeyCacheMs: int(env, 'FINCORE_API_KEY_CACHE_MS', 5000, 0, 60_000),
    failpoints: failpoints(env),
  };
}
