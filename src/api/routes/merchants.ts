import type { FastifyInstance } from 'fastify';
import type { FlowContext } from '../../flows/context.ts';
import { createMerchant } from '../../flows/merchants.ts';
import { errorResponses, idempotencyHeader } from '../schemas.ts';
import { answer, requestCause } from './respond.ts';

export function merchantRoutes(app: FastifyInstance, ctx: FlowContext): void {
  app.post<{ Body: { name: string } }>(
    '/v1/merchants',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'], operationId: 'createMerchant',
        summary: 'Create a merchant (admin key). The API key is shown only in this response.',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          examples: [{ name: 'Corner Coffee' }],
          properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: { 201: { $ref: 'Merchant#' }, ...errorResponses },
      },
    },
    async (request, reply) => answer(reply, () => createMerchant(ctx, request.body.name, requestCause(request), request.idempotency)),
  );
}
