/**
 * The OpenAPI document (`npm run openapi`, scripts/openapi.ts) is complete and clean:
 * - `redocly lint` (redocly.yaml: the recommended ruleset) reports no error and no warning;
 * - every operation has a unique operationId, a summary, tags, and no "Default Response";
 * - security follows the auth hook: none on health, readiness and the PSP webhooks, the admin
 *   key on /v1/admin, merchant creation and /metrics, the merchant key on the rest;
 * - every response describes Request-Id; idempotent POSTs' success answers Idempotent-Replayed;
 * - the Error code enum is every ContractError code;
 * - the typed client (openapi/client.ts, openapi-fetch) works against a running FinCore.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createFinCoreClient } from '../openapi/client.ts';
import { ERROR_CODES } from '../src/api/openapi.ts';
import { DOCUMENT_PATH, writeOpenApi } from '../scripts/openapi.ts';
import { ADMIN_KEY, settledChargeWithClient, startTestFinCore, type TestFinCore } from './helpers.ts';

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { description: string; headers?: Record<string, unknown> }>;
  parameters?: Array<{ name: string; in: string }>;
}
type Document = { paths: Record<string, Record<string, Operation>>; servers?: unknown[]; components: { schemas: Record<string, { properties?: Record<string, { properties?: Record<string, { enum?: string[] }> }> }> } };

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('the OpenAPI document', () => {
  let doc: Document;
  const operations = () => Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).filter(([method]) => METHODS.includes(method)).map(([method, op]) => ({ path, method, op })));

  before(async () => {
    await writeOpenApi();
    doc = JSON.parse(readFileSync(DOCUMENT_PATH, 'utf8')) as Document;
  });

  it('passes redocly lint (recommended ruleset) with no error and no warning', async () => {
    const result = await promisify(execFile)(process.execPath, ['node_modules/@redocly/cli/bin/cli.js', 'lint', DOCUMENT_PATH, '--config', 'redocly.yaml', '--format', 'json'], { maxBuffer: 32 * 1024 * 1024 }).catch((error: { stdout?: string; stderr?: string }) => error);
    const report = JSON.parse(String(result.stdout)) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; severity: string; message: string; location?: Array<{ pointer?: string }> }> };
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer ?? '?'}`);
    assert.deepEqual(problems, [], 'redocly lint openapi/openapi.json');
    assert.deepEqual(report.totals, { ...report.totals, errors: 0, warnings: 0 });
  });

  it('gives every operation a unique camelCase operationId, a summary and tags, and describes every response', () => {
    const ids = operations().map(({ op }) => op.operationId);
    const problems: string[] = [];
    for (const { path, method, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!op.operationId || !/^[a-z][A-Za-z0-9]*$/.test(op.operationId)) problems.push(`${where}: operationId ${JSON.stringify(op.operationId)}`);
      if (ids.filter((id) => id === op.operationId).length > 1) problems.push(`${where}: operationId ${op.operationId} is not unique`);
      if (!op.summary) problems.push(`${where}: no summary`);
      if (!op.tags?.length) problems.push(`${where}: no tags`);
      for (const [status, response] of Object.entries(op.responses)) {
        if (response.description === 'Default Response' || !response.description) problems.push(`${where} ${status}: "${response.description}"`);
        if (!response.headers?.['Request-Id']) problems.push(`${where} ${status}: no Request-Id header`);
      }
      const idempotent = op.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key');
      const success = Object.entries(op.responses).find(([status]) => status.startsWith('2'));
      if (idempotent && !success?.[1].headers?.['Idempotent-Replayed']) problems.push(`${where}: takes an Idempotency-Key, its success answer does not describe Idempotent-Replayed`);
    }
    assert.deepEqual(problems, []);
  });

  it('marks security as the auth hook applies it', () => {
    const expected = (path: string, method: string) => {
      if (['/healthz', '/readyz'].includes(path) || path.startsWith('/v1/webhooks/')) return [];
      if (path.startsWith('/v1/admin/') || path === '/metrics' || (path === '/v1/merchants' && method === 'post')) return [{ adminKey: [] }];
      return [{ merchantKey: [] }];
    };
    const wrong = operations().filter(({ path, method, op }) => JSON.stringify(op.security) !== JSON.stringify(expected(path, method))).map(({ path, method, op }) => `${method.toUpperCase()} ${path}: ${JSON.stringify(op.security)}`);
    assert.deepEqual(wrong, []);
    for (const path of ['/healthz', '/readyz', '/metrics', '/v1/webhooks/psp', '/v1/webhooks/stripe']) assert.ok(doc.paths[path], `${path} is documented`);
  });

  it('names a local server with a port variable', () => {
    assert.deepEqual(doc.servers, [{ url: 'http://127.0.0.1:{port}', description: (doc.servers?.[0] as { description: string }).description, variables: { port: { default: '3000', description: 'The PORT FinCore listens on.' } } }]);
  });

  it("enumerates every error code of src/domain/errors.ts in the Error object", () => {
    const codes = doc.components.schemas.Error?.properties?.error?.properties?.code?.enum;
    assert.deepEqual(codes, [...ERROR_CODES]);
    assert.ok(codes.includes('idempotency_key_reused') && codes.includes('resource_missing'));
  });
});

describe('the typed client (openapi-fetch over the generated types) against a running FinCore', () => {
  let fincore: TestFinCore;
  before(async () => {
    fincore = await startTestFinCore();
  });
  after(() => fincore?.stop());

  it('creates a merchant, a charge and a refund, and reads the error shape', async () => {
    const admin = createFinCoreClient(fincore.url, ADMIN_KEY);
    const merchant = await admin.POST('/v1/merchants', { body: { name: 'Typed Client Shop' }, params: { header: { 'idempotency-key': 'typed-merchant' } } });
    assert.equal(merchant.response.status, 201);
    assert.ok(merchant.data?.api_key);
    const shop = createFinCoreClient(fincore.url, merchant.data.api_key);
    const charge = await settledChargeWithClient(shop, 4200);
    assert.equal(charge.status, 'succeeded');
    const refund = await shop.POST('/v1/refunds', { body: { charge_id: charge.id, amount: 1200, reason: 'requested_by_customer' }, params: { header: { 'idempotency-key': 'typed-refund' } } });
    assert.equal(refund.response.status, 201);
    assert.equal(refund.data?.amount, 1200);
    const replay = await shop.POST('/v1/refunds', { body: { charge_id: charge.id, amount: 1200, reason: 'requested_by_customer' }, params: { header: { 'idempotency-key': 'typed-refund' } } });
    assert.equal(replay.response.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.data?.id, refund.data?.id);
    const missing = await shop.GET('/v1/charges/{id}', { params: { path: { id: 'ch_missing' } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.error?.error.code, 'resource_missing');
    const overview = await admin.GET('/v1/admin/overview');
    assert.equal(overview.data?.merchants, 1);
  });
});
