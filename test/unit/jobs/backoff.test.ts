import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { retryDelayMs } from '../../../src/jobs/backoff.ts';

describe('retry backoff', () => {
  it('doubles per attempt and is capped', () => {
    assert.equal(retryDelayMs(1, 100, 10_000, () => 1), 100);
    assert.equal(retryDelayMs(2, 100, 10_000, () => 1), 200);
    assert.equal(retryDelayMs(5, 100, 10_000, () => 1), 1600);
    assert.equal(retryDelayMs(30, 100, 10_000, () => 1), 10_000);
  });

  it('jitter keeps every delay between half and all of the exponential delay', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, base, r) => {
        const full = Math.min(100_000, base * 2 ** (attempt - 1));
        const delay = retryDelayMs(attempt, base, 100_000, () => r);
        return delay >= Math.floor(full / 2) && delay <= Math.ceil(full);
      }),
    );
  });
});
