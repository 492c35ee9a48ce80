/**
 * Load generators. Closed loop: autocannon as a library, N connections each sending its next
 * request when the previous answer arrived. Open loop: a fixed offered rate from our own timer
 * (autocannon's overallRate releases each second's quota in a burst), latency counted from the
 * scheduled send time so a slow server cannot hide queueing (no coordinated omission).
 */
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { cpuBusyShare, machineCpu, percentiles, Samples, sleep, type Percentiles } from './util.ts';

export interface PreparedRequest {
  headers: Record<string, string>;
  body: string;
}

export interface ClosedLoopResult {
  connections: number;
  durationS: number;
  /** Answers with a 2xx status per second. */
  rps: number;
  ok: number;
  /** Every status code answered, with counts. */
  statusCounts: Record<string, number>;
  non2xx: number;
  /** Socket errors and timeouts (no HTTP answer at all). */
  socketErrors: number;
  timeouts: number;
  /** Latency of 2xx answers, ms, from our own per-request record (exact, not bucketed). */
  latencyMs: Percentiles;
  /** autocannon's own view, for cross-checking: mean of its per-second samples and its histogram. */
  autocannon: { rpsMean: number; p50: number; p99: number };
  /** Share of all cores busy during the run (whole machine: FinCore, PostgreSQL, the load generator). */
  machineCpuBusy: number | null;
}

export async function closedLoop(options: {
  url: string;
  path: string;
  connections: number;
  durationS: number;
  make: () => PreparedRequest;
  /** Sampled by the caller around the run (e.g. CPU time of the FinCore process). */
  title?: string;
}): Promise<ClosedLoopResult> {
  const latencies = new Samples();
  const cpuBefore = machineCpu();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationS,
        timeout: 30,
        title: options.title,
        requests: [
          {
            method: 'POST',
            path: options.path,
            setupRequest: (req) => {
              const prepared = options.make();
              return { ...req, method: 'POST', path: options.path, headers: prepared.headers, body: prepared.body };
            },
          },
        ],
      },
      (error: unknown, res: autocannon.Result) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
  const cpuAfter = machineCpu();
  const statusCounts: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCounts[code] = stat.count ?? 0;
  const ok = result['2xx'];
  return {
    connections: options.connections,
    durationS: result.duration,
    rps: ok / result.duration,
    ok,
    statusCounts,
    non2xx: result.non2xx,
    socketErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    latencyMs: percentiles(latencies.sorted()),
    autocannon: { rpsMean: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 },
    machineCpuBusy: cpuBusyShare(cpuBefore, cpuAfter),
  };
}

export interface OpenLoopResult {
  offeredRate: number;
  durationS: number;
  sent: number;
  /** Not sent because too many were in flight (the server fell that far behind). */
  skipped: number;
  ok: number;
  statusCounts: Record<string, number>;
  socketErrors: number;
  /** From the scheduled send time to the answer, ms (2xx only). */
  latencyMs: Percentiles;
  /** Parsed bodies of the 2xx answers (the caller picks ids from them). */
  bodies: unknown[];
  machineCpuBusy: number | null;
}

/** Sends `rate` requests per second for `durationS`, whatever the answers do. */
export async function openLoop(options: {
  url: string;
  path: string;
  rate: number;
  durationS: number;
  make: () => PreparedRequest;
  maxInFlight?: number;
  timeoutMs?: number;
}): Promise<OpenLoopResult> {
  const target = new URL(options.path, options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const maxInFlight = options.maxInFlight ?? 1000;
  const total = Math.round(options.rate * options.durationS);
  const intervalMs = 1000 / options.rate;
  const latencies = new Samples();
  const statusCounts: Record<string, number> = {};
  const bodies: unknown[] = [];
  let inFlight = 0;
  let sent = 0;
  let skipped = 0;
  let ok = 0;
  let socketErrors = 0;
  const finished: Array<Promise<void>> = [];

  const fire = (scheduledAt: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const prepared = options.make();
      inFlight++;
      sent++;
      const req = request(
        target,
        { method: 'POST', agent, headers: { ...prepared.headers, 'content-length': String(Buffer.byteLength(prepared.body)) }, timeout: options.timeoutMs ?? 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const elapsed = performance.now() - scheduledAt;
            const code = res.statusCode ?? 0;
            statusCounts[code] = (statusCounts[code] ?? 0) + 1;
            if (code >= 200 && code < 300) {
              ok++;
              latencies.push(elapsed);
              try {
                bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
              } catch {
                // counted as ok; no id to follow
              }
            }
            inFlight--;
            resolve();
          });
          res.on('error', () => {
            socketErrors++;
            inFlight--;
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        socketErrors++;
        inFlight--;
        resolve();
      });
      req.end(prepared.body);
    });

  const cpuBefore = machineCpu();
  const start = performance.now();
  let next = 0;
  while (next < total) {
    const now = performance.now();
    // Everything whose scheduled time has come goes now, each stamped with its own schedule.
    while (next < total && start + next * intervalMs <= now) {
      const scheduledAt = start + next * intervalMs;
      next++;
      if (inFlight >= maxInFlight) {
        skipped++;
        continue;
      }
      finished.push(fire(scheduledAt));
    }
    const wait = start + next * intervalMs - performance.now();
    await sleep(Math.max(0, Math.min(wait, 5)));
  }
  await Promise.all(finished);
  const elapsedS = (performance.now() - start) / 1000;
  const cpuAfter = machineCpu();
  agent.destroy();
  return {
    offeredRate: options.rate,
    durationS: elapsedS,
    sent,
    skipped,
    ok,
    statusCounts,
    socketErrors,
    latencyMs: percentiles(latencies.sorted()),
    bodies,
    machineCpuBusy: cpuBusyShare(cpuBefore, cpuAfter),
  };
}
