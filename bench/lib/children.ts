/**
 * FinCore processes started by the benchmark (`node --import tsx src/cli.ts <command>`), tracked
 * so that every one of them is stopped at the end, on failure and on Ctrl-C. Their output is kept
 * (bounded) and their pino warn/error lines are counted: a benchmark that logs errors is suspect.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { memoryMb, processCpuMs, sleep } from './util.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const KEEP_OUTPUT_CHARS = 64 * 1024;

export interface LogCounts {
  warn: number;
  error: number;
  /** Up to 5 distinct messages of warn level or above. */
  samples: string[];
}

export interface StoppedInfo {
  name: string;
  command: string;
  pid: number;
  peakRssMb: number | null;
  cpuMs: number | null;
  exitCode: number | null;
  signal: string | null;
  logs: LogCounts;
}

export class Child {
  readonly child: ChildProcess;
  readonly pid: number;
  private output = '';
  private pending = '';
  readonly logs: LogCounts = { warn: 0, error: 0, samples: [] };
  readonly exited: Promise<void>;
  private lastMemory: { peakRssMb: number; rssMb: number } | null = null;
  private lastCpuMs: number | null = null;

  constructor(
    readonly name: string,
    readonly command: string[],
    env: NodeJS.ProcessEnv,
  ) {
    // BENCH_NODE_ARGS: extra Node flags for every child, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'
    // (Node refuses --cpu-prof in NODE_OPTIONS).
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    this.child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/cli.ts', ...command], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`could not start ${name}`);
    this.pid = this.child.pid;
    this.child.stdout?.on('data', (chunk: Buffer) => this.take(chunk.toString()));
    this.child.stderr?.on('data', (chunk: Buffer) => this.take(chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private take(text: string): void {
    this.output = (this.output + text).slice(-KEEP_OUTPUT_CHARS);
    this.pending += text;
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: unknown; status?: unknown; error?: unknown };
        if ((entry.level ?? 0) >= 50) this.logs.error++;
        else if ((entry.level ?? 0) >= 40) this.logs.warn++;
        else continue;
        const err = typeof entry.err === 'string' ? entry.err : entry.err ? JSON.stringify(entry.err).slice(0, 200) : '';
        // A failed call's answer or error (the simulator's webhook sender logs them as status / error).
        const detail = [err, entry.status !== undefined ? `status ${String(entry.status)}` : '', typeof entry.error === 'string' ? entry.error : ''].filter(Boolean).join(', ');
        const sample = `${entry.msg ?? ''}${detail ? `: ${detail}` : ''}`.slice(0, 300);
        if (this.logs.samples.length < 5 && !this.logs.samples.includes(sample)) this.logs.samples.push(sample);
      } catch {
        // not a log line
      }
    }
  }

  text(): string {
    return this.output;
  }

  /** Waits until the output matches `pattern`; fails if the process exits first or after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) return match;
      if (!this.alive) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before printing ${pattern}:\n${this.output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.output.slice(-4000)}`);
      await sleep(50);
    }
  }

  /** Peak RSS so far (VmHWM); remembered so it is still known after the process exits. */
  sample(): { peakRssMb: number; rssMb: number } | null {
    const memory = memoryMb(this.pid);
    if (memory) this.lastMemory = memory;
    const cpu = processCpuMs(this.pid);
    if (cpu !== null) this.lastCpuMs = cpu;
    return this.lastMemory;
  }

  cpuMs(): number | null {
    const cpu = processCpuMs(this.pid);
    if (cpu !== null) this.lastCpuMs = cpu;
    return this.lastCpuMs;
  }

  /** SIGTERM (FinCore drains and closes), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<StoppedInfo> {
    this.sample();
    if (this.alive) {
      this.child.kill('SIGTERM');
      const killed = await Promise.race([this.exited.then(() => false), sleep(graceMs).then(() => true)]);
      if (killed && this.alive) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    return {
      name: this.name,
      command: this.command.join(' '),
      pid: this.pid,
      peakRssMb: this.lastMemory?.peakRssMb ?? null,
      cpuMs: this.lastCpuMs,
      exitCode: this.child.exitCode,
      signal: this.child.signalCode,
      logs: this.logs,
    };
  }
}

const running = new Set<Child>();

/** Last resort (process exit, fatal error): SIGKILL whatever is still running. */
export function killAllNow(): void {
  for (const child of running) {
    try {
      child.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Orderly: SIGTERM every child still running, SIGKILL after a grace period. */
export async function stopAll(graceMs = 10_000): Promise<void> {
  await Promise.all([...running].map((child) => child.stop(graceMs).catch(() => undefined)));
}

/** A FinCore API process: waits for its `API:` line and returns its base URL. */
export async function apiUrlOf(child: Child): Promise<string> {
  const match = await child.waitFor(/API:\s+(http:\/\/\S+)/);
  return match[1] ?? '';
}
