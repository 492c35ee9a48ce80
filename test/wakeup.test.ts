/**
 * Worker wakeups name their lane (src/db/wakeup.ts): a committed refund wakes the money lane and
 * not the webhook lane, whose claim is a recursive query that would run for nothing. In-process
 * wakeups everywhere; across processes (NOTIFY with the lanes as payload) on the PostgreSQL server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { JOB_LANES, lanesOf } from '../src/domain/jobs.ts';
import { JOBS_CHANNEL, JobWakeup, lanesOfPayload } from '../src/db/wakeup.ts';
import { eventually, onServer } from './helpers.ts';

/** Waits for `condition` (a wakeup crosses the database, so it arrives a little later). */
async function until(what: string, condition: () => boolean): Promise<void> {
  await eventually(async () => (condition() ? true : undefined), 5000, what);
}

function counter(): { wake: () => void; readonly count: number } {
  let count = 0;
  return {
    wake: () => void count++,
    get count() {
      return count;
    },
  };
}

describe('lanesOfPayload', () => {
  it('reads the lanes a NOTIFY names; none, or none it knows, means every lane', () => {
    assert.deepEqual(lanesOfPayload('money'), ['money']);
    assert.deepEqual(lanesOfPayload('money,webhook'), ['money', 'webhook']);
    assert.deepEqual(lanesOfPayload(''), JOB_LANES);
    assert.deepEqual(lanesOfPayload(undefined), JOB_LANES);
    assert.deepEqual(lanesOfPayload('refunds-v9'), JOB_LANES);
  });

  it("a worker's lanes are those of the job types it claims", () => {
    assert.deepEqual(lanesOf(['CHARGE', 'REFUND']), ['money']);
    assert.deepEqual(lanesOf(['WEBHOOK']), ['webhook']);
    assert.deepEqual(lanesOf(['WEBHOOK', 'REFUND']), ['money', 'webhook']);
  });
});

describe('in-process wakeups', () => {
  it('a committed job wakes the subscribers of its lane only; a subscriber of every lane hears all', async () => {
    // Embedded: the wakeup never touches the pool (no NOTIFY), so a pool that connects nowhere will do.
    const pool = new pg.Pool({ host: '127.0.0.1', port: 9 });
    const wakeup = new JobWakeup(pool, true);
    const money = counter();
    const webhook = counter();
    const all = counter();
    const unsubscribe = await Promise.all([wakeup.subscribe(money.wake, ['money']), wakeup.subscribe(webhook.wake, ['webhook']), wakeup.subscribe(all.wake)]);

    wakeup.jobsCommitted('REFUND');
    wakeup.jobsCommitted('CHARGE');
    assert.deepEqual([money.count, webhook.count, all.count], [2, 0, 2]);
    wakeup.jobsCommitted('WEBHOOK');
    assert.deepEqual([money.count, webhook.count, all.count], [2, 1, 3]);

    await Promise.all(unsubscribe.map((off) => off()));
    wakeup.jobsCommitted('REFUND');
    assert.equal(money.count, 2, 'unsubscribed');
    await pool.end();
  });
});

describe('wakeups across processes (NOTIFY)', { skip: !onServer && 'needs the PostgreSQL server (DATABASE_URL)' }, () => {
  let sender: pg.Pool;
  let receiver: pg.Pool;
  before(() => {
    sender = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
    receiver = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
  });
  after(async () => {
    await sender.end();
    await receiver.end();
  });

  it("another process's refund wakes its money lane, not its webhook lane; a webhook job wakes the webhook lane", async () => {
    const from = new JobWakeup(sender, false);
    const to = new JobWakeup(receiver, false);
    const money = counter();
    const webhook = counter();
    const offMoney = await to.subscribe(money.wake, ['money']);
    const offWebhook = await to.subscribe(webhook.wake, ['webhook']);
    try {
      from.jobsCommitted('REFUND');
      await until('the money lane woken', () => money.count >= 1);
      assert.equal(money.count, 1);
      // Sent after the refund's: each listener hears one session's notifications in order, so
      // when the webhook lane hears this one it would have heard the refund's before it.
      from.jobsCommitted('WEBHOOK');
      await until('the webhook lane woken', () => webhook.count >= 1);
      assert.equal(webhook.count, 1, 'the refund did not wake the webhook lane');
      assert.equal(money.count, 1, 'the webhook job did not wake the money lane');

      // A NOTIFY without lanes (another version of FinCore) wakes every lane.
      await sender.query(`NOTIFY ${JOBS_CHANNEL}`);
      await until('both lanes woken', () => money.count >= 2 && webhook.count >= 2);
      assert.deepEqual([money.count, webhook.count], [2, 2]);
    } finally {
      await offMoney();
      await offWebhook();
    }
  });
});
