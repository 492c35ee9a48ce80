/**
 * Merchants and their API keys (admin). A key is shown only in the response that creates it;
 * only its sha256 is stored. Rolling issues a new key and ends the old ones after an overlap;
 * revoking ends keys now. Each writes its event in the same transaction.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ResourceMissing } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { expireKeys, findValidKey, insertApiKey, keysOfMerchant, lockMerchant, type ApiKeyRecord } from '../db/api-keys.ts';
import { appendEvent, type Cause } from '../db/events.ts';
import { insertMerchant } from '../db/merchants.ts';
import { inTransaction, type Queryable } from '../db/pool.ts';
import type { FlowContext } from './context.ts';
import { claimIdempotencyKey, storeIdempotentResponse, type ApiResponse, type IdempotentRequest } from './idempotency.ts';

export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

function newApiKey(): string {
  return `sk_${randomBytes(24).toString('base64url')}`;
}

/** The public form of a key: never the key, never its hash. */
export function apiKeyObject(key: ApiKeyRecord) {
  return { id: key.id, object: 'api_key' as const, merchant_id: key.merchant_id, created_at: key.created_at.toISOString(), expires_at: key.expires_at?.toISOString() ?? null };
}

/** The merchant a key belongs to while the key is valid, and until when (null: until rolled or revoked). */
export async function merchantOfKey(db: Queryable, keyHash: string): Promise<{ merchantId: string; expiresAt: Date | null } | undefined> {
  const key = await findValidKey(db, keyHash);
  return key && { merchantId: key.merchant_id, expiresAt: key.expires_at };
}

export async function createMerchant(ctx: FlowContext, name: string, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  return inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const apiKey = newApiKey();
    const merchant = await insertMerchant(tx, { id: newId('mer'), name });
    await insertApiKey(tx, { id: newId('key'), merchantId: merchant.id, keyHash: hashApiKey(apiKey) });
    await appendEvent(tx, { merchantId: merchant.id, type: 'merchant.created', objectType: 'merchant', objectId: merchant.id, data: { name }, cause });
    const body = { id: merchant.id, object: 'merchant', name: merchant.name, api_key: apiKey };
    // The key is shown only once: a replay returns the same merchant with api_key null, so the
    // plain key is never stored anywhere, the idempotency table included.
    await storeIdempotentResponse(tx, idempotency, { status: 201, body: { ...body, api_key: null } });
    return { status: 201, body };
  });
}

async function lockMerchantOrMissing(tx: Queryable, merchantId: string): Promise<void> {
  if (!(await lockMerchant(tx, merchantId))) throw new ResourceMissing(`No such merchant: '${merchantId}'`, 'id');
}

/**
 * A new key for the merchant; its valid keys keep working for `overlapSeconds` more (0: they stop
 * now). `api_key.rolled` names the new key and the old keys' ends.
 */
export async function rollApiKey(ctx: FlowContext, merchantId: string, overlapSeconds: number, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  return inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    await lockMerchantOrMissing(tx, merchantId);
    const previous = await expireKeys(tx, merchantId, overlapSeconds);
    const apiKey = newApiKey();
    const created = await insertApiKey(tx, { id: newId('key'), merchantId, keyHash: hashApiKey(apiKey) });
    const previousKeys = previous.map(apiKeyObject);
    await appendEvent(tx, {
      merchantId,
      type: 'api_key.rolled',
      objectType: 'merchant',
      objectId: merchantId,
      data: { api_key: apiKeyObject(created), previous_keys: previousKeys, expires_in_seconds: overlapSeconds },
      cause,
    });
    const body = { ...apiKeyObject(created), api_key: apiKey, previous_keys: previousKeys };
    await storeIdempotentResponse(tx, idempotency, { status: 201, body: { ...body, api_key: null } });
    return { status: 201, body };
  });
}

/** Ends the merchant's valid keys now (or only `keyId`). `api_key.revoked` names them. */
export async function revokeApiKeys(ctx: FlowContext, merchantId: string, keyId: string | undefined, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  return inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    await lockMerchantOrMissing(tx, merchantId);
    const revoked = (await expireKeys(tx, merchantId, 0, keyId)).map(apiKeyObject);
    if (keyId !== undefined && revoked.length === 0) throw new ResourceMissing(`No valid API key '${keyId}' of merchant '${merchantId}'`, 'api_key_id');
    await appendEvent(tx, { merchantId, type: 'api_key.revoked', objectType: 'merchant', objectId: merchantId, data: { revoked }, cause });
    const body = { object: 'list', data: revoked, has_more: false };
    await storeIdempotentResponse(tx, idempotency, { status: 200, body });
    return { status: 200, body };
  });
}

export async function listApiKeys(db: Queryable, merchantId: string) {
  const keys = await keysOfMerchant(db, merchantId);
  return { object: 'list' as const, data: keys.map(apiKeyObject), has_more: false };
}
