import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_AMOUNT,
  MIN_AMOUNT,
  currencyExponent,
  formatMinorUnits,
  isValidAmount,
  normalizeCurrency,
} from '../../../src/domain/money.ts';

const KNOWN: ReadonlyArray<readonly [string, number]> = [
  ['jpy', 0],
  ['krw', 0],
  ['usd', 2],
  ['eur', 2],
  ['gbp', 2],
  ['kwd', 3],
  ['bhd', 3],
  ['jod', 3],
];

/** Random case of a string ("uSd", "USD", ...). */
function randomCase(code: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: code.length, maxLength: code.length })
    .map((upper) => [...code].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));
}

describe('money: currency exponents', () => {
  it('JPY 0, USD 2, KWD 3', () => {
    assert.equal(currencyExponent('jpy'), 0);
    assert.equal(currencyExponent('usd'), 2);
    assert.equal(currencyExponent('kwd'), 3);
  });

  it('known exponents for a sample of currencies, any case', () => {
    for (const [code, exp] of KNOWN) {
      assert.equal(currencyExponent(code), exp, code);
      assert.equal(currencyExponent(code.toUpperCase()), exp, code.toUpperCase());
    }
  });

  it('unknown currency throws RangeError', () => {
    assert.throws(() => currencyExponent('xxx'), RangeError);
    assert.throws(() => currencyExponent(''), RangeError);
    assert.throws(() => currencyExponent('us'), RangeError);
  });
});

describe('money: normalizeCurrency', () => {
  it('is case-insensitive and returns lowercase', () => {
    assert.equal(normalizeCurrency('USD'), 'usd');
    assert.equal(normalizeCurrency('usd'), 'usd');
    assert.equal(normalizeCurrency('UsD'), 'usd');
    assert.equal(normalizeCurrency('JPY'), 'jpy');
    assert.equal(normalizeCurrency('kWd'), 'kwd');
  });

  it('property: any casing of a known code normalizes to the lowercase code', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KNOWN.map(([c]) => c)).chain((code) => randomCase(code).map((input) => ({ code, input }))),
        ({ code, input }) => {
          assert.equal(normalizeCurrency(input), code);
        },
      ),
    );
  });

  it('rejects unknown codes', () => {
    for (const bad of ['', 'xxx', 'usdd', 'us', 'dollar', ' usd', 'usd ', 'u$d', 'US D', 'constructor', 'toString', '__proto__']) {
      assert.equal(normalizeCurrency(bad), undefined, JSON.stringify(bad));
    }
  });

  it('property: a result, when defined, is the lowercase input and has a known exponent', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 5 }), (input) => {
        const out = normalizeCurrency(input);
        if (out !== undefined) {
          assert.equal(out, input.toLowerCase());
          assert.match(out, /^[a-z]{3}$/);
          assert.ok([0, 2, 3].includes(currencyExponent(out)));
        }
      }),
    );
  });

  it(
    'rejects non-ASCII look-alikes (KELVIN SIGN U+212A lowercases to "k")',
    () => {
      assert.equal(normalizeCurrency('\u212AWD'), undefined);
    },
  );
});

describe('money: isValidAmount', () => {
  it('bounds are 1 and 99999999', () => {
    assert.equal(MIN_AMOUNT, 1);
    assert.equal(MAX_AMOUNT, 99_999_999);
  });

  it('accepts integers in [1, 99999999]', () => {
    for (const ok of [1, 2, 50, 1500, 99_999_998, 99_999_999]) assert.equal(isValidAmount(ok), true, String(ok));
  });

  it('rejects floats, strings, booleans, 0, negatives, too large, NaN, infinities, unsafe integers, non-numbers', () => {
    const bad: unknown[] = [
      1.5, 0.1, 99.99, 1e-9, 1 + Number.EPSILON,
      '1', '1500', '', '1.5',
      true, false,
      0, -0, -1, -1500, -99_999_999,
      100_000_000, 99_999_999.5, 1e9,
      Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY,
      Number.MAX_SAFE_INTEGER + 1, Number.MAX_SAFE_INTEGER + 2, 2 ** 60, -(2 ** 60), Number.MAX_VALUE,
      null, undefined, {}, [], [1], 10n, { valueOf: () => 10 },
    ];
    for (const value of bad) assert.equal(isValidAmount(value), false, String(value));
  });

  it('property: integers are valid iff within bounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: -200_000_000, max: 200_000_000 }), (n) => {
        assert.equal(isValidAmount(n), n >= 1 && n <= 99_999_999);
      }),
    );
  });

  it('property: non-integer doubles are never valid', () => {
    fc.assert(
      fc.property(
        fc.double().filter((d) => !Number.isInteger(d)),
        (d) => {
          assert.equal(isValidAmount(d), false);
        },
      ),
    );
  });

  it('property: non-number values are never valid', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.bigInt(), fc.object(), fc.array(fc.integer())),
        (v) => {
          assert.equal(isValidAmount(v), false);
        },
      ),
    );
  });
});

describe('money: formatMinorUnits', () => {
  it('contract examples', () => {
    assert.equal(formatMinorUnits(1500, 'usd'), '15.00');
    assert.equal(formatMinorUnits(1500, 'jpy'), '1500');
    assert.equal(formatMinorUnits(1500, 'kwd'), '1.500');
    assert.equal(formatMinorUnits(5, 'usd'), '0.05');
  });

  it('more edge examples', () => {
    assert.equal(formatMinorUnits(1, 'usd'), '0.01');
    assert.equal(formatMinorUnits(10, 'usd'), '0.10');
    assert.equal(formatMinorUnits(100, 'usd'), '1.00');
    assert.equal(formatMinorUnits(1, 'kwd'), '0.001');
    assert.equal(formatMinorUnits(1, 'jpy'), '1');
    assert.equal(formatMinorUnits(99_999_999, 'usd'), '999999.99');
    assert.equal(formatMinorUnits(99_999_999, 'kwd'), '99999.999');
    assert.equal(formatMinorUnits(99_999_999, 'jpy'), '99999999');
    assert.equal(formatMinorUnits(1500, 'USD'), '15.00');
  });

  it('unknown currency throws', () => {
    assert.throws(() => formatMinorUnits(1500, 'xxx'), RangeError);
  });

  it('property: removing the dot and parsing gives back the amount; shape matches the exponent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MIN_AMOUNT, max: MAX_AMOUNT }),
        fc.constantFrom(...KNOWN.map(([c]) => c)),
        (amount, currency) => {
          const exp = currencyExponent(currency);
          const s = formatMinorUnits(amount, currency);
          assert.equal(Number.parseInt(s.replace('.', ''), 10), amount);
          if (exp === 0) {
            assert.match(s, /^[1-9][0-9]*$/);
          } else {
            // exactly `exp` fraction digits, one integer digit at least, no spurious leading zeros
            assert.match(s, new RegExp(`^(0|[1-9][0-9]*)\\.[0-9]{${exp}}$`));
          }
        },
      ),
    );
  });
});
