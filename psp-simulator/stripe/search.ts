/**
 * A subset of Stripe's Search Query Language for PaymentIntents: clauses joined by AND or by OR
 * (not mixed, as in Stripe), each optionally negated with `-`:
 *   metadata['fincore_id']:'ch_1'   status:'succeeded'   currency:'usd'   amount>=1000   created>1700000000
 * `:` on text is an exact, case-insensitive match, as Stripe documents it.
 */
import { invalidRequest, type StripeApiError } from './errors.ts';
import type { PaymentIntentRecord } from './objects.ts';

type Comparison = ':' | '>' | '<' | '>=' | '<=';

export type SearchClause =
  | { negated: boolean; field: 'metadata'; key: string; value: string }
  | { negated: boolean; field: 'status' | 'currency'; value: string }
  | { negated: boolean; field: 'amount' | 'created'; op: Comparison; value: number };

export interface SearchQuery {
  clauses: SearchClause[];
  /** How the clauses combine; one clause: 'AND'. */
  join: 'AND' | 'OR';
}

const MAX_CLAUSES = 10;
const TEXT_FIELDS = new Set(['status', 'currency']);
const NUMBER_FIELDS = new Set(['amount', 'created']);

function queryError(message: string): StripeApiError {
  return invalidRequest(message, { param: 'query' });
}

class Cursor {
  index = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.index >= this.text.length;
  }

  peek(length = 1): string {
    return this.text.slice(this.index, this.index + length);
  }

  skipSpaces(): number {
    const start = this.index;
    while (!this.done && /\s/.test(this.text[this.index] ?? '')) this.index += 1;
    return this.index - start;
  }

  expect(literal: string): void {
    if (this.peek(literal.length) !== literal) {
      throw queryError(`Invalid search query at position ${this.index}: expected ${literal} in ${this.text}`);
    }
    this.index += literal.length;
  }

  /** 'text' or "text", with backslash escapes. */
  quoted(): string {
    const quote = this.peek();
    if (quote !== "'" && quote !== '"') throw queryError(`Invalid search query at position ${this.index}: expected a quoted value in ${this.text}`);
    this.index += 1;
    let value = '';
    for (;;) {
      if (this.done) throw queryError(`Invalid search query: unterminated string in ${this.text}`);
      const ch = this.text[this.index] ?? '';
      this.index += 1;
      if (ch === quote) return value;
      if (ch === '\\') {
        value += this.text[this.index] ?? '';
        this.index += 1;
      } else {
        value += ch;
      }
    }
  }

  word(pattern: RegExp): string {
    const start = this.index;
    while (!this.done && pattern.test(this.text[this.index] ?? '')) this.index += 1;
    return this.text.slice(start, this.index);
  }

  comparison(): Comparison {
    for (const op of ['>=', '<=', ':', '>', '<'] as const) {
      if (this.peek(op.length) === op) {
        this.index += op.length;
        return op;
      }
    }
    throw queryError(`Invalid search query at position ${this.index}: expected :, >, <, >= or <= in ${this.text}`);
  }
}

function parseClause(cursor: Cursor): SearchClause {
  const negated = cursor.peek() === '-';
  if (negated) cursor.index += 1;
  const field = cursor.word(/[a-z_]/);
  if (field === 'metadata') {
    cursor.expect('[');
    const key = cursor.quoted();
    cursor.expect(']');
    cursor.expect(':');
    return { negated, field, key, value: cursor.quoted() };
  }
  if (field === 'status' || field === 'currency') {
    cursor.expect(':');
    return { negated, field, value: cursor.quoted() };
  }
  if (field === 'amount' || field === 'created') {
    const op = cursor.comparison();
    const text = cursor.peek() === "'" || cursor.peek() === '"' ? cursor.quoted() : cursor.word(/[0-9]/);
    if (!/^[0-9]+$/.test(text)) throw queryError(`Invalid search query: ${field} needs an integer value in ${cursor.text}`);
    return { negated, field, op, value: Number(text) };
  }
  const known = ['metadata', ...TEXT_FIELDS, ...NUMBER_FIELDS].join(', ');
  throw queryError(
    field === ''
      ? `Invalid search query at position ${cursor.index}: expected a field in ${cursor.text}`
      : `Field \`${field}\` is an unsupported search field for resource \`payment_intents\`. Supported here: ${known}.`,
  );
}

export function parseSearchQuery(query: string): SearchQuery {
  const cursor = new Cursor(query);
  cursor.skipSpaces();
  if (cursor.done) throw queryError('The search query must not be empty.');
  const clauses: SearchClause[] = [parseClause(cursor)];
  let join: 'AND' | 'OR' | null = null;
  for (;;) {
    const spaced = cursor.skipSpaces() > 0;
    if (cursor.done) break;
    const word = cursor.word(/[A-Za-z]/);
    if (!spaced || (word !== 'AND' && word !== 'OR') || cursor.skipSpaces() === 0) {
      throw queryError(`Invalid search query at position ${cursor.index}: expected AND or OR between clauses in ${query}`);
    }
    if (join !== null && join !== word) throw queryError('Search queries cannot mix AND and OR.');
    join = word;
    clauses.push(parseClause(cursor));
    if (clauses.length > MAX_CLAUSES) throw queryError(`Search queries can have at most ${MAX_CLAUSES} clauses.`);
  }
  return { clauses, join: join ?? 'AND' };
}

function compare(actual: number, op: Comparison, expected: number): boolean {
  switch (op) {
    case ':':
      return actual === expected;
    case '>':
      return actual > expected;
    case '<':
      return actual < expected;
    case '>=':
      return actual >= expected;
    case '<=':
      return actual <= expected;
  }
}

function clauseMatches(pi: PaymentIntentRecord, clause: SearchClause): boolean {
  let hit: boolean;
  switch (clause.field) {
    case 'metadata':
      hit = pi.metadata[clause.key]?.toLowerCase() === clause.value.toLowerCase();
      break;
    case 'status':
      hit = pi.status === clause.value.toLowerCase();
      break;
    case 'currency':
      hit = pi.currency === clause.value.toLowerCase();
      break;
    case 'amount':
      hit = compare(pi.amount, clause.op, clause.value);
      break;
    case 'created':
      hit = compare(pi.created, clause.op, clause.value);
      break;
  }
  return clause.negated ? !hit : hit;
}

export function matchesSearch(pi: PaymentIntentRecord, query: SearchQuery): boolean {
  return query.join === 'AND'
    ? query.clauses.every((clause) => clauseMatches(pi, clause))
    : query.clauses.some((clause) => clauseMatches(pi, clause));
}
