import { randomBytes } from 'node:crypto';

/**
 * Ids are a type prefix plus a time-sortable body: 10 chars of millisecond timestamp and 16 random
 * chars, Crockford base32 (ULID layout). Within one process ids are strictly increasing, so
 * "newest first" by id equals creation order even inside one millisecond.
 */
export type IdPrefix = 'mer' | 'key' | 'ch' | 're' | 'evt' | 'job' | 'req' | 'recon' | 'we' | 'whd' | 'rev' | 'dp';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/;

let lastTime = -1;
let lastRandom: number[] = [];

function encodeTime(ms: number): string {
  let out = '';
  let rest = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function randomDigits(): number[] {
  return Array.from(randomBytes(16), (byte) => byte % 32);
}

function increment(digits: number[]): number[] {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i--) {
    if ((next[i] ?? 0) < 31) {
      next[i] = (next[i] ?? 0) + 1;
      return next;
    }
    next[i] = 0;
  }
  return randomDigits(); // overflow after 32^16 ids in one ms: impossible in practice
}

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  if (nowMs <= lastTime) {
    lastRandom = increment(lastRandom);
  } else {
    lastTime = nowMs;
    lastRandom = randomDigits();
  }
  return `${prefix}_${encodeTime(lastTime)}${lastRandom.map((d) => ALPHABET[d]).join('')}`;
}

export function isId(prefix: IdPrefix, value: string): boolean {
  return value.startsWith(`${prefix}_`) && BODY.test(value.slice(prefix.length + 1));
}
