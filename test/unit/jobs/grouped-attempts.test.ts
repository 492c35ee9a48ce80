/**
 * The worker's grouped PSP attempt history (src/jobs/grouped-attempts.ts, src/db/attempts.ts)
 * on a real database: the starts of calls made in one turn are one statement, each caller gets
 * the attempt number that continues its object's history (consecutive for two calls of one
 * object in a group), each start is committed before the caller goes on, and completions
 * written together keep each call's own outcome and latency.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { startAttempt } from '../../../src/db/attempts.ts';
import { migrate } from '../../../src/db/migrate.ts';
import { openDatabase, type Database } from '../../../src/db/pool.ts';
import { groupedAttempts } from '../../../src/jobs/grouped-attempts.ts';
import { freshDatabase, type TestDatabase } from '../../helpers.ts';

describe('grouped PSP attempt history (groupedAttempts)', () => {
  let database: TestDatabase;
  let db: Database;
  /** The pool, counting the statements that write psp_attempts. */
  let counted: pg.Pool;
  let writes: string[];

  before(async () => {
    database = await freshDatabase();
    db = await openDatabase({ databaseUrl: database.env.DATABASE_URL ?? '', dataDir: database.env.FINCORE_DATA_DIR ?? '', poolSize: 2 });
    await migrate(db.pool);
    writes = [];
    counted = new Proxy(db.pool, {
      get(target, property) {
        if (property === 'query') {
          return (text: string, values?: unknown[]) => {
            if (/psp_attempts/.test(text) && /INSERT|UPDATE/.test(text)) writes.push(text);
            return target.query(text, values);
          };
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  });

  after(async () => {
    await db.close();
    await database.drop();
  });

  const start = (objectId: string) => ({ objectType: 'refund' as const, objectId, merchantId: 'mer_1', psp: 'simulator', idempotencyKey: objectId });

  it('starts made in one turn are one statement; numbers continue each object history, consecutive within a group', async () => {
    await startAttempt(db.pool, start('re_a'));
    await startAttempt(db.pool, start('re_a'));
    writes.length = 0;
    const attempts = groupedAttempts(counted);
    const numbers = await Promise.all(['re_a', 're_b', 're_a', 're_c'].map((id) => attempts.start(start(id))));
    assert.deepEqual(numbers, [3, 1, 4, 1]);
    assert.equal(writes.length, 1, 'one INSERT for the group');
    // Committed by the time the callers go on (a call is only made after its start is durable).
    const { rows } = await db.pool.query<{ object_id: string; attempt_number: number }>(
      `SELECT object_id, attempt_number FROM psp_attempts WHERE finished_at IS NULL ORDER BY object_id, attempt_number`,
    );
    assert.deepEqual(rows.map((r) => `${r.object_id}#${r.attempt_number}`), ['re_a#1', 're_a#2', 're_a#3', 're_a#4', 're_b#1', 're_c#1']);
  });

  it('completions written together keep each call its own outcome and latency', async () => {
    writes.length = 0;
    const attempts = groupedAttempts(counted);
    await Promise.all([
      attempts.finish({ objectId: 're_b', attemptNumber: 1, outcome: 'pending', latencyMs: 12.4, pspCode: null, fincoreCode: 'pending', message: null }),
      attempts.finish({ objectId: 're_c', attemptNumber: 1, outcome: 'timeout', latencyMs: 600, pspCode: null, fincoreCode: null, message: 'timed out after 600 ms' }),
    ]);
    assert.equal(writes.length, 1, 'one UPDATE for the group');
    const { rows } = await db.pool.query<{ object_id: string; outcome: string; latency_ms: number; message: string | null; finished: boolean }>(
      `SELECT object_id, outcome, latency_ms, message, finished_at IS NOT NULL AS finished FROM psp_attempts WHERE object_id IN ('re_b', 're_c') ORDER BY object_id`,
    );
    assert.deepEqual(rows, [
      { object_id: 're_b', outcome: 'pending', latency_ms: 12, message: null, finished: true },
      { object_id: 're_c', outcome: 'timeout', latency_ms: 600, message: 'timed out after 600 ms', finished: true },
    ]);
    // A completed attempt is never completed again (a late duplicate changes nothing).
    await attempts.finish({ objectId: 're_b', attemptNumber: 1, outcome: 'network', latencyMs: 1, pspCode: null, fincoreCode: null, message: 'late' });
    const again = await db.pool.query<{ outcome: string }>(`SELECT outcome FROM psp_attempts WHERE object_id = 're_b'`);
    assert.equal(again.rows[0]?.outcome, 'pending');
  });

  it('two workers starting calls for one object at once both get a number of their own', async () => {
    const [one, two] = [groupedAttempts(db.pool), groupedAttempts(db.pool)];
    const numbers = await Promise.all([one.start(start('re_d')), two.start(start('re_d')), one.start(start('re_d')), two.start(start('re_d'))]);
    assert.deepEqual([...numbers].sort(), [1, 2, 3, 4]);
  });
});
