/**
 * pgbench runs of a transaction script against the benchmark database, with per-transaction
 * logs (-l) so p50/p99 are computed from every transaction, not from progress samples.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuBusyShare, machineCpu, percentilesOf, type Percentiles } from './util.ts';

export const PGBENCH = process.env.PGBENCH ?? '/usr/bin/pgbench';

export interface PgbenchResult {
  script: string;
  clients: number;
  threads: number;
  durationS: number;
  /** pgbench's own figure, "without initial connection time". */
  tps: number | null;
  transactions: number;
  failed: number;
  /** Per-transaction latency from the logs, ms. */
  latencyMs: Percentiles;
  exitCode: number | null;
  machineCpuBusy: number | null;
  /** pgbench's summary, for the results file. */
  output: string;
}

const running = new Set<ChildProcess>();
const logDirs = new Set<string>();

/** Last resort (exit, Ctrl-C): no pgbench left running, no log directory left behind. */
export function killPgbench(): void {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of logDirs) rmSync(dir, { recursive: true, force: true });
}

export async function runPgbench(options: {
  url: string;
  script: string;
  clients: number;
  threads?: number;
  durationS: number;
  variables: Record<string, string | number>;
}): Promise<PgbenchResult> {
  const threads = Math.min(options.threads ?? 2, options.clients);
  const logDir = mkdtempSync(join(tmpdir(), 'fincore-pgbench-'));
  logDirs.add(logDir);
  try {
    const args = [
      '--no-vacuum',
      '--protocol=prepared',
      `--client=${options.clients}`,
      `--jobs=${threads}`,
      `--time=${options.durationS}`,
      `--file=${options.script}`,
      '--log',
      `--log-prefix=${join(logDir, 'tx')}`,
      ...Object.entries(options.variables).map(([k, v]) => `--define=${k}=${v}`),
      options.url,
    ];
    const cpuBefore = machineCpu();
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(PGBENCH, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-200_000)));
      child.once('error', reject);
      child.once('exit', (exitCode) => {
        running.delete(child);
        resolve({ code: exitCode, output: out });
      });
    });
    const cpuAfter = machineCpu();
    const latencies: number[] = [];
    let failed = 0;
    for (const file of readdirSync(logDir)) {
      for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
        if (!line) continue;
        // client_id transaction_no time script_no time_epoch time_us [schedule_lag]; time in µs
        const time = line.split(' ')[2];
        const us = Number(time);
        if (Number.isFinite(us)) latencies.push(us / 1000);
        else failed++;
      }
    }
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1];
    const reportedFailed = /number of failed transactions: (\d+)/.exec(output)?.[1];
    const summary = output
      .split('\n')
      .filter((l) => !/^pgbench: (client \d+ )?(executing|sending|receiving)/.test(l))
      .slice(-40)
      .join('\n');
    return {
      script: options.script,
      clients: options.clients,
      threads,
      durationS: options.durationS,
      tps: tps === undefined ? null : Number(tps),
      transactions: latencies.length,
      failed: Math.max(failed, Number(reportedFailed ?? 0)),
      latencyMs: percentilesOf(latencies),
      exitCode: code,
      machineCpuBusy: cpuBusyShare(cpuBefore, cpuAfter),
      output: summary,
    };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
    logDirs.delete(logDir);
  }
}

/** The function a script needs, from its `-- requires-function: name` header line (if any). */
export function requiredFunction(script: string): string | undefined {
  return /^--\s*requires-function:\s*(\w+)/m.exec(readFileSync(script, 'utf8'))?.[1];
}
