import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isId, newId, type IdPrefix } from '../../../src/domain/ids.ts';

const PREFIXES: readonly IdPrefix[] = ['mer', 'ch', 're', 'evt', 'job', 'req'];
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Decode the 10-char Crockford timestamp of an id body. */
function decodeTime(id: string): number {
  const body = id.slice(id.indexOf('_') + 1);
  let ms = 0;
  for (const ch of body.slice(0, 10)) {
    const d = CROCKFORD.indexOf(ch);
    assert.ok(d >= 0, `bad char ${ch}`);
    ms = ms * 32 + d;
  }
  return ms;
}

// Note: ids.ts keeps module-level state (last timestamp); node --test runs each file in its own
// process, and tests here run in order. Explicit timestamps are chosen far beyond Date.now() and
// increasing, so they are never clamped by an earlier call.
const FUTURE = Date.UTC(2200, 0, 1);

describe('ids: format', () => {
  it('has the prefix, an underscore and a 26-char Crockford base32 body', () => {
    for (const prefix of PREFIXES) {
      const id = newId(prefix);
      assert.ok(id.startsWith(`${prefix}_`), id);
      const body = id.slice(prefix.length + 1);
      assert.equal(body.length, 26, id);
      assert.match(body, BODY);
      assert.doesNotMatch(body, /[ILOU]/);
      assert.equal(isId(prefix, id), true, id);
    }
  });

  it('encodes the current time in the first 10 chars', () => {
    const before = Date.now();
    const id = newId('ch');
    const after = Date.now();
    const t = decodeTime(id);
    assert.ok(t >= before && t <= after, `${t} not in [${before}, ${after}]`);
  });
});

describe('ids: isId', () => {
  it('accepts well-formed ids of the right prefix only', () => {
    const id = newId('ch');
    assert.equal(isId('ch', id), true);
    assert.equal(isId('re', id), false);
    assert.equal(isId('mer', id), false);
    const re = newId('re');
    assert.equal(isId('re', re), true);
    assert.equal(isId('req', re), false);
    const req = newId('req');
    assert.equal(isId('re', req), false);
  });

  it('rejects malformed values', () => {
    const body = newId('ch').slice(3);
    const bad = [
      '',
      'ch_',
      'ch',
      body,
      `ch${body}`,
      `CH_${body}`,
      `ch-${body}`,
      `ch_${body.slice(1)}`, // 25 chars
      `ch_${body}0`, // 27 chars
      `ch_${body.toLowerCase()}`,
      `ch_${body.slice(0, 25)}I`,
      `ch_${body.slice(0, 25)}L`,
      `ch_${body.slice(0, 25)}O`,
      `ch_${body.slice(0, 25)}U`,
      `ch_${body.slice(0, 25)}_`,
      ` ch_${body}`,
      `ch_${body} `,
      `ch_${body}\n`,
    ];
    for (const v of bad) assert.equal(isId('ch', v), false, JSON.stringify(v));
  });

  it('property: isId(p, v) iff v = p + "_" + 26 Crockford chars', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PREFIXES),
        fc.string({ unit: fc.constantFrom(...CROCKFORD, 'I', 'L', 'O', 'U', 'a', '_'), minLength: 24, maxLength: 28 }),
        (prefix, body) => {
          assert.equal(isId(prefix, `${prefix}_${body}`), BODY.test(body));
        },
      ),
    );
  });
});

describe('ids: ordering', () => {
  it('10,000 ids generated in a tight loop are strictly increasing (string comparison) and unique', () => {
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++) ids.push(newId('ch'));
    for (let i = 1; i < ids.length; i++) {
      const prev = ids[i - 1] ?? '';
      const cur = ids[i] ?? '';
      assert.ok(prev < cur, `ids[${i - 1}]=${prev} !< ids[${i}]=${cur}`);
    }
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.equal(isId('ch', id), true);
  });

  it('many ids within one fixed millisecond are strictly increasing and share the timestamp', () => {
    const t = FUTURE;
    const ids = Array.from({ length: 2_000 }, () => newId('re', t));
    for (let i = 1; i < ids.length; i++) assert.ok((ids[i - 1] ?? '') < (ids[i] ?? ''));
    for (const id of ids) assert.equal(decodeTime(id), t);
  });

  it('property: ids for increasing timestamps sort by timestamp and encode it', () => {
    let base = FUTURE + 1_000;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 2, maxLength: 30 }), (gaps) => {
        const ids: string[] = [];
        for (const gap of gaps) {
          base += gap;
          const id = newId('evt', base);
          assert.equal(decodeTime(id), base);
          ids.push(id);
        }
        const sorted = [...ids].sort();
        assert.deepEqual(sorted, ids);
      }),
    );
  });

  it('a timestamp earlier than the last one does not go backwards (clock skew)', () => {
    const a = newId('job', FUTURE + 10_000_000_000);
    const b = newId('job', FUTURE); // clock went back
    const c = newId('job'); // Date.now(), far behind
    assert.ok(a < b, `${a} !< ${b}`);
    assert.ok(b < c, `${b} !< ${c}`);
  });
});
