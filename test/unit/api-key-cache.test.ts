import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ApiKeyCache } from '../../src/api/plugins/auth.ts';

it('remembers a merchant for its TTL, then asks again; evicts the oldest beyond its size', () => {
  const cache = new ApiKeyCache(1000, 2);
  cache.set('a', 'mer_a', 0);
  assert.equal(cache.get('a', 999), 'mer_a');
  assert.equal(cache.get('a', 1000), undefined, 'expired at its TTL');
  cache.set('a', 'mer_a', 0);
  cache.set('b', 'mer_b', 0);
  cache.set('c', 'mer_c', 0);
  assert.equal(cache.get('a', 1), undefined, 'the oldest was evicted');
  assert.equal(cache.get('b', 1), 'mer_b');
  assert.equal(cache.get('c', 1), 'mer_c');
});
