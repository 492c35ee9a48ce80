/**
 * Operator API for merchants' API keys (admin key): list, roll, revoke. The process that rolls
 * or revokes forgets the merchant's cached keys at once; other processes within the key cache TTL.
 */
import type { FastifyInstance } from 'fastify';
import type { FlowContext } from '../../flows/context.ts';
import { listApiKeys, revokeApiKeys, rollApiKey } from '../../flows/merchants.ts';
import type { ApiKeyCache } from '../plugins/auth.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { errorResponses, idempotencyHeader } from '../schemas.ts';
import { answer, requestCause } from './respond.ts';

const admin = { auth: 'admin' as const };
const merchantParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 255 } } } as const;
const apiKey = {
  type: 'object',
  required: ['id', 'object', 'merchant_id', 'created_at', 'expires_at'],
  properties: {
    id: { type: 'string', description: 'Prefix key_. Names the key; it is not the key.' },
    object: { type: 'string', enum: ['api_key'] },
    merchant_id: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    expires_at: { type: ['string', 'null'], format: 'date-time', description: 'When the key stops working; null: until rolled or revoked.' },
  },
} as const;
const keyList = { type: 'object', required: ['object', 'data', 'has_more'], properties: { object: { type: 'string', enum: ['list'] }, data: { type: 'array', items: apiKey }, has_more: { type: 'boolean' } } } as const;

export function apiKeyRoutes(app: FastifyInstance, ctx: FlowContext, keyCache: ApiKeyCache): void {
  app.get<{ Params: { id: string } }>(
    '/v1/admin/merchants/:id/api_keys',
    { config: admin, schema: { tags: ['admin'], operationId: 'listApiKeys', summary: "A merchant's API keys (ids and validity, never the keys), newest first", params: merchantParams, response: { 200: keyList, ...errorResponses } } },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await listApiKeys(ctx.pool, request.params.id) }),
  );

  app.post<{ Params: { id: string }; Body: { expires_in_seconds?: number } | undefined }>(
    '/v1/admin/merchants/:id/api_keys/roll',
    {
      config: admin,
      schema: {
        tags: ['admin'], operationId: 'rollApiKey',
        summary: 'Roll the API key: a new key, shown only in this response; the old keys keep working for expires_in_seconds (default 0: they stop now)',
        headers: idempotencyHeader,
        params: merchantParams,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { expires_in_seconds: { type: 'integer', minimum: 0, maximum: 7 * 86_400, description: 'Overlap during which the old keys still work (at most 7 days).' } },
        },
        response: {
          201: {
            ...apiKey,
            required: [...apiKey.required, 'api_key', 'previous_keys'],
            properties: {
              ...apiKey.properties,
              api_key: { type: ['string', 'null'], description: 'The new key. Shown only here; null in an idempotent replay.' },
              previous_keys: { type: 'array', items: apiKey, description: 'The keys this roll ends, with their new expires_at.' },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const overlap = request.body?.expires_in_seconds ?? 0;
      const answered = await answer(reply, () => rollApiKey(ctx, request.params.id, overlap, requestCause(request), request.idempotency));
      keyCache.forgetMerchant(request.params.id);
      return answered;
    },
  );

  app.post<{ Params: { id: string }; Body: { api_key_id?: string } | undefined }>(
    '/v1/admin/merchants/:id/api_keys/revoke',
    {
      config: admin,
      schema: {
        tags: ['admin'], operationId: 'revokeApiKeys',
        summary: "Revoke the merchant's valid API keys now (or only api_key_id). Requests with them fail at once in this process, within the key cache TTL in others",
        headers: idempotencyHeader,
        params: merchantParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: { api_key_id: { type: 'string', maxLength: 255 } } },
        response: { 200: keyList, ...errorResponses },
      },
    },
    async (request, reply) => {
      const answered = await answer(reply, () => revokeApiKeys(ctx, request.params.id, request.body?.api_key_id, requestCause(request), request.idempotency));
      keyCache.forgetMerchant(request.params.id);
      return answered;
    },
  );
}
