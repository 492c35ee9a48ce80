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

/**
 * Random bytes are drawn from a pool filled 4 KiB at a time: a call into the CSPRNG per id cost
 * about 5% of the API's CPU per refund (three ids each; bench/README.md, "After issue 17"). Ids
 * are not secrets, only unguessable enough not to collide, and the bytes are the same CSPRNG's.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function randomDigits(): number[] {
  if (poolOffset + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const digits = new Array<number>(16);
  // 256 is a multiple of 32: every digit is equally likely.
  for (let i = 0; i < 16; i++) digits[i] = pool[poolOffset + i]! % 32;
  poolOffset += 16;
  return digits;
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
