/** POST /v1/merchants (admin): creates a merchant and its API key, shown only once. */
import { createHash, randomBytes } from 'node:crypto';
import { newId } from '../domain/ids.ts';
import { appendEvent, type Cause } from '../db/events.ts';
import { insertMerchant } from '../db/merchants.ts';
import { inTransaction } from '../db/pool.ts';
import type { FlowContext } from './context.ts';
import { claimIdempotencyKey, storeIdempotentResponse, type ApiResponse, type IdempotentRequest } from './idempotency.ts';

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

export async function createMerchant(ctx: FlowContext, name: string, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  return inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const apiKey = `sk_${randomBytes(24).toString('base64url')}`;
    const merchant = await insertMerchant(tx, { id: newId('mer'), name, apiKeyHash: hashApiKey(apiKey) });
    await appendEvent(tx, { merchantId: merchant.id, type: 'merchant.created', objectType: 'merchant', objectId: merchant.id, data: { name }, cause });
    const body = { id: merchant.id, object: 'merchant', name: merchant.name, api_key: apiKey };
    // The key is shown only once: a replay returns the same merchant with api_key null, so the
    // plain key is never stored anywhere, the idempotency table included.
    await storeIdempotentResponse(tx, idempotency, { status: 201, body: { ...body, api_key: null } });
    return { status: 201, body };
  });
}
