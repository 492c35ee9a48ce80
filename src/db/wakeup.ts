/**
 * Wakes workers when jobs were committed. On a PostgreSQL server: NOTIFY, which reaches worker
 * processes anywhere. On embedded PGlite NOTIFY reaches only the sender's session, so workers in
 * this process are woken directly. Workers poll as well, so a lost wakeup only delays a job.
 *
 * A wakeup names the lane of the jobs committed (domain/jobs.ts JOBS), and a worker hears only
 * its own lane's: a refund does not make the webhook lane run its claim (a recursive query over
 * the merchants' queued deliveries) for nothing, which in the bench's settle run was about a tenth
 * of the database's time. A NOTIFY without a lane (another version of FinCore) wakes every lane.
 */
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { JOB_LANES, JOBS, type JobLane, type JobType } from '../domain/jobs.ts';

export const JOBS_CHANNEL = 'fincore_jobs';

/** The lanes a NOTIFY payload names: a comma-separated list; empty or unknown: every lane. */
export function lanesOfPayload(payload: string | undefined): readonly JobLane[] {
  const named = (payload ?? '').split(',').filter((lane): lane is JobLane => (JOB_LANES as readonly string[]).includes(lane));
  return named.length > 0 ? named : JOB_LANES;
}

export class JobWakeup {
  private readonly local = new EventEmitter();

  constructor(
    private readonly pool: pg.Pool,
    private readonly embedded: boolean,
  ) {
    this.local.setMaxListeners(100);
  }

  private notifying = false;
  /** Lanes committed since the NOTIFY in flight was sent: the next one names them. */
  private pendingLanes = new Set<JobLane>();

  /** Call after the transaction that enqueued jobs of this type has committed. */
  jobsCommitted(type: JobType): void {
    const lane = JOBS[type].lane;
    this.local.emit('wake', lane);
    if (!this.embedded) {
      this.pendingLanes.add(lane);
      this.notify();
    }
  }

  /**
   * One NOTIFY in flight at a time: commits arriving meanwhile share the next one (naming every
   * lane they committed to), which is sent after they committed, so every commit is still
   * followed by a wakeup. Under load this turns a round trip per request into a handful per second.
   */
  private notify(): void {
    if (this.notifying || this.pendingLanes.size === 0) return;
    this.notifying = true;
    const lanes = [...this.pendingLanes].join(',');
    this.pendingLanes.clear();
    this.pool
      .query('SELECT pg_notify($1, $2)', [JOBS_CHANNEL, lanes])
      .catch(() => {})
      .finally(() => {
        this.notifying = false;
        this.notify();
      });
  }

  /** Subscribes `onWake` to the wakeups of `lanes` (default: every lane); returns an unsubscribe function. */
  async subscribe(onWake: () => void, lanes: readonly JobLane[] = JOB_LANES): Promise<() => Promise<void>> {
    const onLocal = (lane: JobLane) => {
      if (lanes.includes(lane)) onWake();
    };
    const onNotification = (message: pg.Notification) => {
      if (message.channel === JOBS_CHANNEL && lanesOfPayload(message.payload).some((lane) => lanes.includes(lane))) onWake();
    };
    this.local.on('wake', onLocal);
    let listener: pg.PoolClient | undefined;
    if (!this.embedded) {
      try {
        listener = await this.pool.connect();
        listener.on('notification', onNotification);
        listener.on('error', () => {});
        await listener.query(`LISTEN ${JOBS_CHANNEL}`);
      } catch {
        listener?.release(true);
        listener = undefined; // polling still runs
      }
    }
    return async () => {
      this.local.off('wake', onLocal);
      if (listener) {
        listener.removeListener('notification', onNotification);
        await listener.query(`UNLISTEN ${JOBS_CHANNEL}`).catch(() => {});
        listener.release();
      }
    };
  }
}

/**
 * The pause between rounds of a polling loop that JobWakeup can cut short (the postgres worker,
 * the outbox relay). A wakeup during a round makes the next pause return at once, so a job
 * committed mid-round is never left for a whole poll interval.
 */
export class PollPause {
  private wakeRequested = false;
  private stopped = false;
  private sleeper: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  /** Ends the current pause, or the next one before it starts. */
  readonly wake = (): void => {
    this.wakeRequested = true;
    if (this.sleeper) {
      clearTimeout(this.sleeper.timer);
      this.sleeper.resolve();
    }
  };

  get stopping(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.wake();
  }

  /** Call as a round begins: the wakeups that round will see are consumed. */
  beginRound(): void {
    this.wakeRequested = false;
  }

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.wakeRequested || this.stopped) return resolve();
      this.sleeper = { timer: setTimeout(resolve, ms), resolve };
    }).finally(() => {
      this.sleeper = undefined;
    });
  }
}
