/**
 * GET /v1/charges/:id/attempts and GET /v1/refunds/:id/attempts: one route shape for both kinds
 * of object (each registered by its own routes file, so the OpenAPI document keeps them in their
 * section). The outcome classes in the description come from the domain's list.
 */
import type { FastifyInstance } from 'fastify';
import { ATTEMPT_OUTCOMES, type AttemptObjectType } from '../../domain/attempts.ts';
import { getAttempts } from '../../flows/attempts.ts';
import type { FlowContext } from '../../flows/context.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { attemptListSchema, errorResponses } from '../schemas.ts';

const OPERATION_IDS = { charge: 'listChargeAttempts', refund: 'listRefundAttempts' } as const satisfies Record<AttemptObjectType, string>;

export function attemptsRoute(app: FastifyInstance, ctx: FlowContext, objectType: AttemptObjectType): void {
  app.get<{ Params: { id: string } }>(
    `/v1/${objectType}s/:id/attempts`,
    {
      schema: {
        tags: [`${objectType}s`],
        operationId: OPERATION_IDS[objectType],
        summary: `List the PSP calls made for a ${objectType}, newest first`,
        description:
          `Every PSP call FinCore made for the ${objectType}: when, how long, the idempotency key sent (always the ${objectType} id), ` +
          `the outcome class (${ATTEMPT_OUTCOMES.join(', ')}; not_sent: the connection could not be opened, nothing reached the PSP) ` +
          `and the PSP code mapped to FinCore's. A call in flight has outcome null.`,
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { ...attemptListSchema, description: `The ${objectType}'s PSP attempts, newest first.` }, ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getAttempts(ctx.pool, request.scope, objectType, request.params.id) }),
  );
}
