/** The hash chain, pure: links chain per merchant, and any edit, deletion or reordering shows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { appendLinks, checkLink, GENESIS, type HashedEventContent } from '../../../src/flows/audit-chain.ts';

const eventArb: fc.Arbitrary<HashedEventContent> = fc.record({
  id: fc.string({ minLength: 1, maxLength: 12 }).map((s) => `evt_${s}`),
  merchant_id: fc.constantFrom('mer_a', 'mer_b', null),
  type: fc.constantFrom('charge.created', 'refund.succeeded'),
  object_type: fc.constantFrom('charge', 'refund'),
  object_id: fc.string({ maxLength: 8 }),
  sequence: fc.integer({ min: 1, max: 5 }),
  data_text: fc.json(),
  cause_type: fc.constantFrom('api_request', 'psp_event'),
  cause_id: fc.string({ maxLength: 8 }),
  cause_idempotency_key: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
  created_us: fc.bigInt({ min: 0n, max: 2n ** 52n }).map(String),
});

describe('audit hash chain', () => {
  it('links events per chain from GENESIS, positions 1, 2, 3 ..., each verifying against the previous', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 20 }), (events) => {
        const links = appendLinks(new Map(), events);
        const last = new Map<string, { position: number; hash: string }>();
        links.forEach((link, i) => {
          const previous = last.get(link.chain);
          if (!previous) assert.equal(link.prev_hash, GENESIS);
          assert.equal(checkLink(previous, link, events[i]), undefined);
          last.set(link.chain, { position: link.position, hash: link.hash });
        });
      }),
    );
  });

  it('an edit of any field of the event is caught as content_changed', () => {
    const fields = ['id', 'merchant_id', 'type', 'object_type', 'object_id', 'sequence', 'data_text', 'cause_type', 'cause_id', 'cause_idempotency_key', 'created_us'] as const;
    fc.assert(
      fc.property(eventArb, fc.constantFrom(...fields), (event, field) => {
        const [link] = appendLinks(new Map(), [event]);
        assert.ok(link);
        const edited = { ...event, [field]: field === 'sequence' ? event.sequence + 1 : `${String(event[field])}x` };
        assert.equal(checkLink(undefined, link, edited), 'content_changed');
      }),
    );
  });

  it('a missing event, a removed link and a forged link hash are each named', () => {
    const events: HashedEventContent[] = [1, 2, 3].map((n) => ({
      id: `evt_${n}`, merchant_id: 'mer_a', type: 'charge.created', object_type: 'charge', object_id: `ch_${n}`, sequence: 1,
      data_text: '{}', cause_type: 'api_request', cause_id: 'req_1', cause_idempotency_key: null, created_us: '1',
    }));
    const [first, second, third] = appendLinks(new Map(), events);
    assert.ok(first && second && third);
    const afterFirst = { position: 1, hash: first.hash };
    assert.equal(checkLink(afterFirst, second, undefined), 'event_missing');
    assert.equal(checkLink(afterFirst, third, events[2]), 'position_gap');
    assert.equal(checkLink(afterFirst, { ...second, prev_hash: GENESIS }, events[1]), 'prev_hash_mismatch');
    assert.equal(checkLink(afterFirst, { ...second, hash: 'f'.repeat(64) }, events[1]), 'hash_mismatch');
  });
});
