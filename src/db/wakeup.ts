/**
 * Wakes workers when jobs were committed. On a PostgreSQL server: NOTIFY, which reaches worker
 * processes anywhere. On embedded PGlite NOTIFY reaches only the sender's session, so workers in
 * this process are woken directly. Workers poll as well, so a lost wakeup only delays a job.
 */
import { EventEmitter } from 'node:events';
import type pg from 'pg';

export const JOBS_CHANNEL = 'fincore_jobs';

export class JobWakeup {
  private readonly local = new EventEmitter();

  constructor(
    private readonly pool: pg.Pool,
    private readonly embedded: boolean,
  ) {
    this.local.setMaxListeners(100);
  }

  private notifying = false;
  private notifyAgain = false;

  /** Call after the transaction that enqueued jobs has committed. */
  jobsCommitted(): void {
    this.local.emit('wake');
    if (!this.embedded) this.notify();
  }

  /**
   * One NOTIFY in flight at a time: commits arriving meanwhile share the next one, which is sent
   * after they committed, so every commit is still followed by a wakeup. Under load this turns a
   * round trip per request into a handful per second.
   */
  private notify(): void {
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    this.pool
      .query(`NOTIFY ${JOBS_CHANNEL}`)
      .catch(() => {})
      .finally(() => {
        this.notifying = false;
        if (this.notifyAgain) {
          this.notifyAgain = false;
          this.notify();
        }
      });
  }

  /** Subscribes `onWake`; returns an unsubscribe function. */
  async subscribe(onWake: () => void): Promise<() => Promise<void>> {
    this.local.on('wake', onWake);
    let listener: pg.PoolClient | undefined;
    if (!this.embedded) {
      try {
        listener = await this.pool.connect();
        listener.on('notification', onWake);
        listener.on('error', () => {});
        await listener.query(`LISTEN ${JOBS_CHANNEL}`);
      } catch {
        listener?.release(true);
        listener = undefined; // polling still runs
      }
    }
    return async () => {
      this.local.off('wake', onWake);
      if (listener) {
        listener.removeListener('notification', onWake);
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
