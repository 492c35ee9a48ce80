/**
 * GET /v1/admin/charges/{id} carries the PSP attempts of the charge and its refunds, and its
 * schema says so: the OpenAPI document served by FinCore declares `attempts` (required, the
 * public PspAttempt object), and a real answer validates against that document. Before, the
 * schema left `attempts` out: the OpenAPI (and the dashboard's generated types) did not know it,
 * and the serializer passed it through unchecked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ADMIN_KEY, call, createMerchant, settledCharge, startTestFinCore, waitForRefund, type RefundBody, type TestFinCore } from './helpers.ts';

interface Attempt {
  object: string;
  object_id: string;
  attempt_number: number;
}
interface JsonSchema {
  required?: string[];
  properties?: Record<string, { type?: string; items?: { $ref?: string } }>;
}
interface OpenApiDocument {
  components: { schemas: Record<string, JsonSchema> };
}

describe('admin charge detail: attempts declared and validated', () => {
  let fincore: TestFinCore;
  let apiKey: string;
  let doc: OpenApiDocument;

  before(async () => {
    fincore = await startTestFinCore();
    apiKey = (await createMerchant(fincore.url, 'Detail Shop')).apiKey;
    const served = await fetch(`${fincore.url}/openapi.json`);
    assert.equal(served.status, 200);
    doc = (await served.json()) as OpenApiDocument;
  });
  after(async () => {
    await fincore.stop();
  });

  it('the OpenAPI ChargeDetail requires attempts, an array of the public PspAttempt object', () => {
    const detail = doc.components.schemas.ChargeDetail;
    assert.ok(detail, 'ChargeDetail is a component');
    assert.ok(detail.required?.includes('attempts'), `required: ${JSON.stringify(detail.required)}`);
    assert.deepEqual({ type: detail.properties?.attempts?.type, items: detail.properties?.attempts?.items }, { type: 'array', items: { $ref: '#/components/schemas/PspAttempt' } });
    assert.ok(doc.components.schemas.PspAttempt?.required?.includes('idempotency_key'), 'PspAttempt is the public attempt object');
  });

  it('a real answer validates against the served document, and its attempts are the public ones', async () => {
    const charge = await settledCharge(fincore.url, apiKey);
    const created = await call<RefundBody>(fincore.url, 'POST', '/v1/refunds', { key: apiKey, body: { charge_id: charge.id, amount: 900 } });
    assert.equal(created.status, 201);
    await waitForRefund(fincore.url, apiKey, created.body.id);

    const answer = await call<{ attempts: Attempt[] }>(fincore.url, 'GET', `/v1/admin/charges/${charge.id}`, { key: ADMIN_KEY });
    assert.equal(answer.status, 200);
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema({ $id: 'https://fincore.local/openapi.json', components: doc.components });
    const validate = ajv.compile({ $ref: 'https://fincore.local/openapi.json#/components/schemas/ChargeDetail' });
    assert.equal(validate(answer.body), true, JSON.stringify(validate.errors));

    const publicAttempts = async (path: string) => (await call<{ data: Attempt[] }>(fincore.url, 'GET', path, { key: apiKey })).body.data;
    const expected = [...(await publicAttempts(`/v1/charges/${charge.id}/attempts`)), ...(await publicAttempts(`/v1/refunds/${created.body.id}/attempts`))];
    assert.equal(expected.length, 2);
    const key = (a: Attempt) => `${a.object_id}#${a.attempt_number}`;
    assert.deepEqual([...answer.body.attempts].sort((a, b) => key(a).localeCompare(key(b))), expected.sort((a, b) => key(a).localeCompare(key(b))));
  });
});
