/**
 * The audit hash chain, pure: how an event's content is hashed and how links are made. One chain
 * per merchant (and one, "operator", for events of no merchant). Link n:
 *   hash_n = sha256(hash_{n-1} | n | event id | content hash), hash_0 = GENESIS.
 * Editing an event changes its content hash; deleting one leaves a link without its event;
 * removing or reordering links breaks prev_hash. Only recomputing the whole chain from the edit
 * onward hides an edit, which is why the newest hash of each chain is worth publishing elsewhere
 * (`fincore audit verify` prints them).
 */
import { createHash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);
export const OPERATOR_CHAIN = 'operator';

/** What is hashed of an event: every column, in a fixed order, as the database renders it. */
export interface HashedEventContent {
  id: string;
  merchant_id: string | null;
  type: string;
  object_type: string;
  object_id: string;
  sequence: number;
  /** `data::text`: jsonb's canonical rendering (key order fixed by the database). */
  data_text: string;
  cause_type: string;
  cause_id: string;
  cause_idempotency_key: string | null;
  /** created_at in microseconds since the epoch, as text (a JS Date keeps only milliseconds). */
  created_us: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export function contentHash(event: HashedEventContent): string {
  return sha256(
    JSON.stringify([
      event.id,
      event.merchant_id,
      event.type,
      event.object_type,
      event.object_id,
      event.sequence,
      event.data_text,
      event.cause_type,
      event.cause_id,
      event.cause_idempotency_key,
      event.created_us,
    ]),
  );
}

export function linkHash(prevHash: string, position: number, eventId: string, content: string): string {
  return sha256(`${prevHash}|${position}|${eventId}|${content}`);
}

export function chainOf(merchantId: string | null): string {
  return merchantId ?? OPERATOR_CHAIN;
}

export interface ChainLink {
  chain: string;
  position: number;
  event_id: string;
  content_hash: string;
  prev_hash: string;
  hash: string;
}

/** Appends events to chains whose current heads are given (absent = empty chain). */
export function appendLinks(heads: ReadonlyMap<string, { position: number; hash: string }>, events: readonly HashedEventContent[]): ChainLink[] {
  const tips = new Map(heads);
  return events.map((event) => {
    const chain = chainOf(event.merchant_id);
    const tip = tips.get(chain) ?? { position: 0, hash: GENESIS };
    const position = tip.position + 1;
    const content = contentHash(event);
    const hash = linkHash(tip.hash, position, event.id, content);
    tips.set(chain, { position, hash });
    return { chain, position, event_id: event.id, content_hash: content, prev_hash: tip.hash, hash };
  });
}

export type LinkProblem = 'position_gap' | 'prev_hash_mismatch' | 'event_missing' | 'content_changed' | 'hash_mismatch';

/**
 * Checks the next link of a chain given the previous one (undefined at the start) and the event
 * it names as it is now (undefined: gone). Returns the first problem, or undefined.
 */
export function checkLink(previous: { position: number; hash: string } | undefined, link: ChainLink, event: HashedEventContent | undefined): LinkProblem | undefined {
  const expectedPosition = (previous?.position ?? 0) + 1;
  if (link.position !== expectedPosition) return 'position_gap';
  if (link.prev_hash !== (previous?.hash ?? GENESIS)) return 'prev_hash_mismatch';
  if (!event) return 'event_missing';
  if (contentHash(event) !== link.content_hash) return 'content_changed';
  if (linkHash(link.prev_hash, link.position, link.event_id, link.content_hash) !== link.hash) return 'hash_mismatch';
  return undefined;
}
