import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ApiKeyCache } from '../../../src/api/plugins/auth.ts';

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

it('the default TTL, the bound on how long a key revoked elsewhere still works, is 5 s', () => {
  const cache = new ApiKeyCache();
  cache.set('a', 'mer_a', 0);
  assert.equal(cache.get('a', 4999), 'mer_a');
  assert.equal(cache.get('a', 5000), undefined);
});

it("an entry never outlives its key's own expiry (the end of a roll's overlap)", () => {
  const cache = new ApiKeyCache(30_000);
  cache.set('a', 'mer_a', 0, 1500);
  assert.equal(cache.get('a', 1499), 'mer_a');
  assert.equal(cache.get('a', 1500), undefined);
});

it("forgetMerchant drops every key of that merchant at once (the process that rolled or revoked)", () => {
  const cache = new ApiKeyCache();
  cache.set('a1', 'mer_a', 0);
  cache.set('a2', 'mer_a', 0);
  cache.set('b', 'mer_b', 0);
  cache.forgetMerchant('mer_a');
  assert.equal(cache.get('a1', 1), undefined);
  assert.equal(cache.get('a2', 1), undefined);
  assert.equal(cache.get('b', 1), 'mer_b');
});
