import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAmount, minorUnitExponent } from '../../../dashboard/src/money.ts';

describe('dashboard amounts: minor units shown with the currency exponent', () => {
  it('uses 0 decimals for jpy and krw, 3 for kwd, bhd, jod, omr, tnd, 2 otherwise', () => {
    for (const c of ['jpy', 'krw']) assert.equal(minorUnitExponent(c), 0, c);
    for (const c of ['kwd', 'bhd', 'jod', 'omr', 'tnd']) assert.equal(minorUnitExponent(c), 3, c);
    for (const c of ['usd', 'eur', 'gbp', 'chf']) assert.equal(minorUnitExponent(c), 2, c);
    assert.equal(minorUnitExponent('xyz'), 2, 'an unknown code falls back to 2');
  });

  it('formats through Intl.NumberFormat', () => {
    assert.equal(formatAmount(1500, 'usd'), '$15.00');
    assert.equal(formatAmount(1500, 'jpy'), '¥1,500');
    assert.equal(formatAmount(1500, 'krw'), '₩1,500');
    assert.match(formatAmount(1500, 'kwd'), /^KWD\s1\.500$/);
    assert.match(formatAmount(99_999_999, 'bhd'), /^BHD\s99,999\.999$/);
    assert.equal(formatAmount(1, 'eur'), '€0.01');
    assert.equal(formatAmount(-1500, 'usd'), '-$15.00');
    assert.equal(formatAmount(99_999_999, 'usd'), '$999,999.99');
  });

  it('keeps every minor unit exact across the contract range', () => {
    for (const amount of [1, 7, 10, 99, 101, 12_345, 99_999_999]) {
      const shown = formatAmount(amount, 'usd').replace(/[$,]/g, '');
      assert.equal(Math.round(Number(shown) * 100), amount);
    }
  });
});
