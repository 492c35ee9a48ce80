/**
 * Every list is declared once in src/domain/ (DESIGN.md §5); what cannot import it is compared
 * with it here, each failure naming the list, the place and the values that differ:
 * - the SQL CHECK constraints of a freshly migrated database (pg_get_constraintdef): refund
 *   reasons, charge and refund statuses, job types, event cause types, charge amount bounds;
 * - the SQL form of which refunds hold part of their charge (refund_holds_amount());
 * - the OpenAPI document (the app's swagger output): every enum that is a domain list;
 * - job types: every declared type has a handler, and a lane main.ts starts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import pino from 'pino';
import { buildApp } from '../src/api/app.ts';
import { migrate } from '../src/db/migrate.ts';
import { openDatabase, type Database } from '../src/db/pool.ts';
import { ERROR_TYPES } from '../src/domain/errors.ts';
import { CAUSE_TYPES, EVENT_TYPES } from '../src/domain/events.ts';
import { JOB_LANES, JOB_TYPES, JOBS, jobTypesOfLane } from '../src/domain/jobs.ts';
import { MAX_AMOUNT, MIN_AMOUNT } from '../src/domain/money.ts';
import { REFUND_HOLDS_AMOUNT, REFUND_REASONS } from '../src/domain/refund.ts';
import { allowedMoves, CHARGE_STATUSES, REFUND_STATUSES, statusesOf } from '../src/domain/status.ts';
import { MOVEMENT_NAMES } from '../src/domain/ledger.ts';
import { REVIEW_DECISIONS, REVIEW_REASONS } from '../src/domain/psp-report.ts';
import { DISPUTE_STATUSES } from '../src/domain/dispute.ts';
import { ATTEMPT_OBJECT_TYPES, ATTEMPT_OUTCOMES } from '../src/domain/attempts.ts';
import type { FlowContext } from '../src/flows/context.ts';
import { JOB_HANDLERS } from '../src/jobs/router.ts';
import { createSimulatorGateway } from '../src/psp/simulator/adapter.ts';
import { freshDatabase, type TestDatabase } from './helpers.ts';

/** What `actual` lacks and what it has beyond `expected`, in words; '' when they are the same set. */
export function setDifference(expected: readonly unknown[], actual: readonly unknown[]): string {
  const missing = expected.filter((value) => !actual.includes(value));
  const extra = actual.filter((value) => !expected.includes(value));
  const parts = [];
  if (missing.length > 0) parts.push(`missing ${JSON.stringify(missing)}`);
  if (extra.length > 0) parts.push(`not in the domain list ${JSON.stringify(extra)}`);
  return parts.join('; ');
}

function assertSameList(where: string, domain: string, expected: readonly unknown[], actual: readonly unknown[]): void {
  const difference = setDifference(expected, actual);
  assert.equal(difference, '', `${where} disagrees with ${domain} ${JSON.stringify(expected)}: ${difference}`);
  assert.equal(actual.length, new Set(actual).size, `${where} lists a value twice: ${JSON.stringify(actual)}`);
}

/**
 * The values a single-column CHECK allows, from its definition as PostgreSQL prints it:
 * `CHECK ((reason = ANY (ARRAY['duplicate'::text, 'fraudulent'::text])))`. Undefined when the
 * definition is not such a list.
 */
export function allowedValues(definition: string): string[] | undefined {
  const list = /= ANY \(+ARRAY\[(.*)\]\)/.exec(definition);
  if (!list) return undefined;
  return [...list[1]!.matchAll(/'((?:[^']|'')*)'(?:::[a-z ]+)?/g)].map((match) => match[1]!.replaceAll("''", "'"));
}

interface Check {
  name: string;
  definition: string;
}

/** The CHECK constraints on exactly this one column. */
async function checksOn(pool: pg.Pool, table: string, column: string): Promise<Check[]> {
  const { rows } = await pool.query<Check>(
    `SELECT c.conname AS name, pg_get_constraintdef(c.oid) AS definition
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = c.conkey[1]
      WHERE c.contype = 'c' AND n.nspname = current_schema() AND t.relname = $1 AND a.attname = $2 AND cardinality(c.conkey) = 1
      ORDER BY c.conname`,
    [table, column],
  );
  return rows;
}

async function checkedList(pool: pg.Pool, table: string, column: string): Promise<string[]> {
  const lists = (await checksOn(pool, table, column)).flatMap((check) => {
    const values = allowedValues(check.definition);
    return values ? [{ ...check, values }] : [];
  });
  assert.equal(lists.length, 1, `${table}.${column}: expected exactly one CHECK (${column} IN (...)), found ${lists.length}: ${JSON.stringify(lists)} (add one in a new migration)`);
  return lists[0]!.values;
}

describe('lists: the parser of CHECK definitions', () => {
  it('reads the values of an IN list as PostgreSQL prints it, and nothing else', () => {
    assert.deepEqual(allowedValues("CHECK ((reason = ANY (ARRAY['duplicate'::text, 'fraudulent'::text, 'it''s'::text])))"), ['duplicate', 'fraudulent', "it's"]);
    assert.equal(allowedValues('CHECK ((amount > 0))'), undefined);
  });

  it('names what is missing and what is extra', () => {
    assert.equal(setDifference(['a', 'b'], ['a', 'b']), '');
    assert.equal(setDifference(['a', 'b'], ['b', 'c']), 'missing ["a"]; not in the domain list ["c"]');
  });
});

describe('lists: the SQL CHECKs of a migrated database are the domain lists', () => {
  let database: TestDatabase;
  let db: Database;

  before(async () => {
    database = await freshDatabase();
    db = await openDatabase({ databaseUrl: database.env.DATABASE_URL ?? '', dataDir: database.env.FINCORE_DATA_DIR ?? '', poolSize: 1 });
    await migrate(db.pool);
  });

  after(async () => {
    await db?.close();
    await database?.drop();
  });

  it('refunds.reason allows exactly REFUND_REASONS (src/domain/refund.ts)', async () => {
    assertSameList('CHECK on refunds.reason', 'REFUND_REASONS', REFUND_REASONS, await checkedList(db.pool, 'refunds', 'reason'));
  });

  it('refunds.status and payments.status allow exactly the statuses of TRANSITIONS (src/domain/status.ts)', async () => {
    assertSameList('CHECK on refunds.status', 'REFUND_STATUSES', REFUND_STATUSES, await checkedList(db.pool, 'refunds', 'status'));
    assertSameList('CHECK on payments.status', 'CHARGE_STATUSES', CHARGE_STATUSES, await checkedList(db.pool, 'payments', 'status'));
  });

  it('jobs.job_type allows exactly the declared job types (src/domain/jobs.ts)', async () => {
    assertSameList('CHECK on jobs.job_type', 'JOB_TYPES', JOB_TYPES, await checkedList(db.pool, 'jobs', 'job_type'));
  });

  it('events.cause_type allows exactly CAUSE_TYPES (src/domain/events.ts)', async () => {
    assertSameList('CHECK on events.cause_type', 'CAUSE_TYPES', CAUSE_TYPES, await checkedList(db.pool, 'events', 'cause_type'));
  });

  it('refund_holds_amount() (src/db/functions/) answers REFUND_HOLDS_AMOUNT (src/domain/refund.ts) for every refund status', async () => {
    const { rows } = await db.pool.query<{ status: string; holds: boolean }>(
      'SELECT status, refund_holds_amount(status) AS holds FROM unnest($1::text[]) AS status',
      [REFUND_STATUSES],
    );
    assert.deepEqual(Object.fromEntries(rows.map((row) => [row.status, row.holds])), REFUND_HOLDS_AMOUNT);
  });

  it('ledger_entries.movement allows exactly MOVEMENTS (src/domain/ledger.ts)', async () => {
    assertSameList('CHECK on ledger_entries.movement', 'MOVEMENT_NAMES', MOVEMENT_NAMES, await checkedList(db.pool, 'ledger_entries', 'movement'));
  });

  it('reviews.reason and reviews.decision allow exactly REVIEW_REASONS and REVIEW_DECISIONS (src/domain/psp-report.ts); disputes.status DISPUTE_STATUSES (src/domain/dispute.ts)', async () => {
    assertSameList('CHECK on reviews.reason', 'REVIEW_REASONS', REVIEW_REASONS, await checkedList(db.pool, 'reviews', 'reason'));
    assertSameList('CHECK on reviews.decision', 'REVIEW_DECISIONS', REVIEW_DECISIONS, await checkedList(db.pool, 'reviews', 'decision'));
    assertSameList('CHECK on disputes.status', 'DISPUTE_STATUSES', DISPUTE_STATUSES, await checkedList(db.pool, 'disputes', 'status'));
  });

  it('psp_attempts.outcome and psp_attempts.object_type allow exactly ATTEMPT_OUTCOMES and ATTEMPT_OBJECT_TYPES (src/domain/attempts.ts)', async () => {
    assertSameList('CHECK on psp_attempts.outcome', 'ATTEMPT_OUTCOMES', ATTEMPT_OUTCOMES, await checkedList(db.pool, 'psp_attempts', 'outcome'));
    assertSameList('CHECK on psp_attempts.object_type', 'ATTEMPT_OBJECT_TYPES', ATTEMPT_OBJECT_TYPES, await checkedList(db.pool, 'psp_attempts', 'object_type'));
  });

  it('status_move_allowed() (src/db/functions/, the row triggers) allows exactly the moves of the transition tables (src/domain/status.ts), every pair', async () => {
    for (const kind of ['charge', 'refund'] as const) {
      const statuses = statusesOf(kind);
      const pairs = statuses.flatMap((from) => statuses.map((to) => ({ from, to })));
      const { rows } = await db.pool.query<{ from: string; to: string; allowed: boolean }>(
        `SELECT p.from, p.to, status_move_allowed($1, p.from, p.to) AS allowed FROM unnest($2::text[], $3::text[]) AS p ("from", "to")`,
        [kind, pairs.map((p) => p.from), pairs.map((p) => p.to)],
      );
      const inSql = rows.filter((r) => r.allowed).map((r) => `${r.from}->${r.to}`).sort();
      const inDomain = [...new Set(allowedMoves(kind).map((m) => `${m.from}->${m.to}`))].sort();
      assert.deepEqual(inSql, inDomain, `${kind}: status_move_allowed disagrees with the transition table`);
    }
  });

  it('payments.amount is bounded by MIN_AMOUNT..MAX_AMOUNT (src/domain/money.ts)', async () => {
    const definitions = (await checksOn(db.pool, 'payments', 'amount')).map((check) => check.definition);
    const bounds = definitions.flatMap((definition) => {
      const found = /amount >= (-?\d+)\) AND \(amount <= (-?\d+)/.exec(definition);
      return found ? [[Number(found[1]), Number(found[2])]] : [];
    });
    assert.deepEqual(bounds, [[MIN_AMOUNT, MAX_AMOUNT]], `CHECK on payments.amount (${JSON.stringify(definitions)}) is not BETWEEN ${MIN_AMOUNT} AND ${MAX_AMOUNT}`);
  });
});

describe('lists: job types have a handler and a lane', () => {
  it('every declared job type has a handler in jobs/router.ts, and nothing else has one', () => {
    assertSameList('JOB_HANDLERS (src/jobs/router.ts)', 'JOB_TYPES', JOB_TYPES, Object.keys(JOB_HANDLERS));
    for (const type of JOB_TYPES) assert.equal(typeof JOB_HANDLERS[type], 'function', `${type} has no handler`);
  });

  it('every job type is claimed by exactly one lane, and main.ts starts a worker for every lane', () => {
    const claimed = JOB_LANES.flatMap((lane) => jobTypesOfLane(lane));
    assertSameList('the lanes together', 'JOB_TYPES', JOB_TYPES, claimed);
    const main = readFileSync('src/main.ts', 'utf8');
    const started = [...main.matchAll(/jobTypesOfLane\('([a-z]+)'\)/g)].map((match) => match[1]);
    assertSameList("the lanes src/main.ts starts (jobTypesOfLane('...'))", 'JOB_LANES', JOB_LANES, started);
  });

  it('the webhook lane holds WEBHOOK only: its fair claim (claimWebhookJobs, src/db/jobs.ts) is written for it', () => {
    assert.deepEqual(jobTypesOfLane('webhook'), ['WEBHOOK'], 'a new type in the webhook lane would never be claimed: claimWebhookJobs selects job_type = WEBHOOK only');
  });

  it('every job type works on a kind of id', () => {
    for (const type of JOB_TYPES) assert.match(JOBS[type].ref, /^[a-z]+$/, type);
  });
});

interface Schema {
  enum?: unknown[];
  properties?: Record<string, Schema>;
}

describe('lists: the OpenAPI document carries exactly the domain enums', () => {
  let doc: { components: { schemas: Record<string, Schema> }; paths: Record<string, Record<string, { parameters?: { name: string; schema: Schema }[]; requestBody?: { content: Record<string, { schema: Schema }> } }>> };

  before(async () => {
    const ctx = { psp: createSimulatorGateway({ baseUrl: 'http://127.0.0.1:9', webhookSecret: 'whsec_lists_test' }) } as unknown as FlowContext;
    const app = await buildApp({ ctx, adminKey: 'adm_lists_test', bodyLimitBytes: 65536, logger: pino({ level: 'silent' }), version: 'test' });
    try {
      await app.ready();
      doc = app.swagger() as typeof doc;
    } finally {
      await app.close();
    }
  });

  const enumOf = (where: string, schema: Schema | undefined): unknown[] => {
    assert.ok(Array.isArray(schema?.enum), `${where} has no enum: ${JSON.stringify(schema)}`);
    return schema.enum;
  };
  const component = (name: string, property: string) => enumOf(`components.schemas.${name}.${property}`, doc.components.schemas[name]?.properties?.[property]);
  const queryParameter = (path: string, name: string) => enumOf(`GET ${path} ?${name}`, doc.paths[path]?.get?.parameters?.find((p) => p.name === name)?.schema);

  it('refund reasons: the Refund object and the POST /v1/refunds body (and null)', () => {
    assertSameList('Refund.reason', 'REFUND_REASONS', [...REFUND_REASONS, null], component('Refund', 'reason'));
    const body = doc.paths['/v1/refunds']?.post?.requestBody?.content['application/json']?.schema;
    assertSameList('POST /v1/refunds body reason', 'REFUND_REASONS', [...REFUND_REASONS, null], enumOf('POST /v1/refunds body reason', body?.properties?.reason));
  });

  it('statuses: the Charge and Refund objects and the admin list filters', () => {
    assertSameList('Charge.status', 'CHARGE_STATUSES', CHARGE_STATUSES, component('Charge', 'status'));
    assertSameList('Refund.status', 'REFUND_STATUSES', REFUND_STATUSES, component('Refund', 'status'));
    assertSameList('GET /v1/admin/charges ?status', 'CHARGE_STATUSES', CHARGE_STATUSES, queryParameter('/v1/admin/charges', 'status'));
    assertSameList('GET /v1/admin/refunds ?status', 'REFUND_STATUSES', REFUND_STATUSES, queryParameter('/v1/admin/refunds', 'status'));
  });

  it('event types: the Event object and the events list filter', () => {
    assertSameList('Event.type', 'EVENT_TYPES', EVENT_TYPES, component('Event', 'type'));
    assertSameList('GET /v1/events ?type', 'EVENT_TYPES', EVENT_TYPES, queryParameter('/v1/events', 'type'));
  });

  it('cause types: the Event object', () => {
    const cause = doc.components.schemas.Event?.properties?.cause;
    assertSameList('Event.cause.type', 'CAUSE_TYPES', CAUSE_TYPES, enumOf('components.schemas.Event.cause.type', cause?.properties?.type));
  });

  it('error types: the Error object', () => {
    const error = doc.components.schemas.Error?.properties?.error;
    assertSameList('Error.error.type', 'ERROR_TYPES', ERROR_TYPES, enumOf('components.schemas.Error.error.type', error?.properties?.type));
  });

  it('attempt outcomes: the attempt object of both attempts lists (and null, in flight)', () => {
    for (const path of ['/v1/charges/{id}/attempts', '/v1/refunds/{id}/attempts']) {
      const list = (doc.paths[path]?.get as { responses?: Record<string, { content?: Record<string, { schema: Schema & { properties?: { data?: { items?: Schema } } } }> }> } | undefined)?.responses?.['200']?.content?.['application/json']?.schema;
      // The list's items are the named PspAttempt component (a $ref), or written inline.
      const items = list?.properties?.data?.items as (Schema & { $ref?: string }) | undefined;
      const attempt = items?.$ref ? doc.components.schemas[items.$ref.split('/').pop() ?? ''] : items;
      const outcome = attempt?.properties?.outcome;
      assertSameList(`GET ${path} data[].outcome`, 'ATTEMPT_OUTCOMES', [...ATTEMPT_OUTCOMES, null], enumOf(`GET ${path} data[].outcome`, outcome));
    }
  });

  it('amount bounds: the POST /v1/charges and /v1/refunds bodies', () => {
    for (const path of ['/v1/charges', '/v1/refunds']) {
      const amount = doc.paths[path]?.post?.requestBody?.content['application/json']?.schema.properties?.amount as { minimum?: number; maximum?: number } | undefined;
      assert.deepEqual([amount?.minimum, amount?.maximum], [MIN_AMOUNT, MAX_AMOUNT], `POST ${path} amount bounds`);
    }
  });
});
