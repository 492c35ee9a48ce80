/**
 * src/db/grouped-reads.ts and grouped-writes.ts: many concurrent callers, few statements, and
 * every caller gets its own answer (or the group's error).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GroupedReads } from '../../src/db/grouped-reads.ts';
import { GroupedWrites } from '../../src/db/grouped-writes.ts';

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
