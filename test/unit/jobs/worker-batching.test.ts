/**
 * The worker's batching layers (src/jobs/grouped-reads.ts, grouped-writes.ts): many concurrent
 * callers, few statements, and every caller gets its own answer (or the group's error). The
 * grouped PSP references' transaction and events: test/psp-reference-events.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type pg from 'pg';
import { GroupedReads, groupedJobReads } from '../../../src/jobs/grouped-reads.ts';
import { GroupedWrites } from '../../../src/jobs/grouped-writes.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GroupedReads', () => {
  it('reads the ids asked for in one turn with one call, and gives each caller its own row', async () => {
    const calls: string[][] = [];
    const reads = new GroupedReads<string>(async (ids) => {
      calls.push(ids);
      return new Map(ids.filter((id) => !id.startsWith('missing')).map((id) => [id, `row ${id}`]));
    });
    const answers = await Promise.all(['a', 'b', 'a', 'missing_c'].map((id) => reads.read(id)));
    assert.deepEqual(answers, ['row a', 'row b', 'row a', undefined]);
    assert.deepEqual(calls, [['a', 'b', 'missing_c']], 'one call, each id once');

    // Asked in a later turn: a call of its own.
    await reads.read('d');
    assert.equal(calls.length, 2);
  });

  it('any mix of ids and turns: every caller gets exactly the row for its id', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.constantFrom('x', 'y', 'z', 'w'), { maxLength: 6 }), { maxLength: 5 }), async (turns) => {
        let calls = 0;
        const reads = new GroupedReads<string>(async (ids) => {
          calls++;
          assert.equal(new Set(ids).size, ids.length, 'an id is never asked twice in one call');
          return new Map(ids.map((id) => [id, id.toUpperCase()]));
        });
        const pending: Promise<void>[] = [];
        for (const ids of turns) {
          for (const id of ids) pending.push(reads.read(id).then((row) => assert.equal(row, id.toUpperCase())));
          await tick();
        }
        await Promise.all(pending);
        assert.ok(calls <= turns.filter((ids) => ids.length > 0).length);
      }),
      { numRuns: 50 },
    );
  });

  it('a failed read fails every caller of its group, and the next group reads again', async () => {
    let fail = true;
    const reads = new GroupedReads<string>(async (ids) => {
      if (fail) throw new Error('connection lost');
      return new Map(ids.map((id) => [id, id]));
    });
    const results = await Promise.allSettled([reads.read('a'), reads.read('b')]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    fail = false;
    assert.equal(await reads.read('a'), 'a');
  });
});

describe('GroupedWrites', () => {
  it('items added while a group is being written go in the next group, each once', async () => {
    const groups: number[][] = [];
    let release: () => void = () => {};
    const writes = new GroupedWrites<number>(async (items) => {
      groups.push(items);
      if (groups.length === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const first = [writes.add(1), writes.add(2)];
    await tick();
    await tick();
    const second = [writes.add(3), writes.add(4), writes.add(5)];
    release();
    await Promise.all([...first, ...second]);
    assert.deepEqual(groups, [[1, 2], [3, 4, 5]]);
  });

  it('a failed group rejects its own callers only', async () => {
    const writes = new GroupedWrites<number>(async (items) => {
      if (items.includes(13)) throw new Error('refused');
    });
    const bad = await Promise.allSettled([writes.add(13), writes.add(1)]);
    assert.deepEqual(bad.map((r) => r.status), ['rejected', 'rejected']);
    await writes.add(2); // the next group is written
  });
});

describe("the worker's job reads (groupedJobReads)", () => {
  it("a claimed batch's jobs, started in one turn, read their charges in one query and their refunds in another", async () => {
    const queries: { text: string; ids: string[] }[] = [];
    const pool = {
      query: async (text: string, values: [string[]]) => {
        queries.push({ text, ids: values[0] });
        return { rows: values[0].filter((id) => !id.endsWith('missing')).map((id) => ({ id, charge_psp_reference: null })) };
      },
    } as unknown as pg.Pool;
    const reads = groupedJobReads(pool);
    const [charges, refunds] = await Promise.all([
      Promise.all(['ch_1', 'ch_2', 'ch_missing'].map((id) => reads.charges.read(id))),
      Promise.all(['re_1', 're_2'].map((id) => reads.refunds.read(id))),
    ]);
    assert.deepEqual(charges.map((row) => row?.id), ['ch_1', 'ch_2', undefined]);
    assert.deepEqual(refunds.map((row) => row?.id), ['re_1', 're_2']);
    assert.equal(queries.length, 2, 'one query per table');
    assert.deepEqual(queries.map((q) => q.ids), [['ch_1', 'ch_2', 'ch_missing'], ['re_1', 're_2']]);
    assert.match(queries[0]?.text ?? '', /FROM payments/);
    assert.match(queries[1]?.text ?? '', /FROM refunds/);
  });
});
