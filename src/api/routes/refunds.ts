import type { FastifyInstance } from 'fastify';
import type { Metadata, RefundRecord } from '../../domain/objects.ts';
import type { FlowContext } from '../../flows/context.ts';
import type { Failpoints } from '../failpoints.ts';
import { createRefund } from '../../flows/create-refund.ts';
import { getRefund, getRefundsPage } from '../../flows/queries.ts';
import { getAttempts } from '../../flows/attempts.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { amountSchema, errorResponses, idempotencyHeader, listSchema, metadataSchema, pageQuery, refundReasonSchema } from '../schemas.ts';
import { attemptListSchema } from '../schemas.ts';
import { answer, requestCause } from './respond.ts';

interface CreateRefundBody {
  charge_id: string;
  amount?: number;
  reason?: RefundRecord['reason'];
  metadata?: Metadata;
}

export function refundRoutes(app: FastifyInstance, ctx: FlowContext, failpoints: Failpoints): void {
  app.post<{ Body: CreateRefundBody }>(
    '/v1/refunds',
    {
      config: { idempotencyLookupInFlow: true },
      schema: {
        tags: ['refunds'], operationId: 'createRefund',
        summary: 'Refund a succeeded charge, fully or partially (settles asynchronously)',
        description:
          'amount omitted: everything still refundable. Refundable = charge amount - refunds pending or succeeded; a failed refund frees its amount.',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['charge_id'],
          examples: [{ charge_id: 'ch_01JD3Q7Z8C2V1A6ZK5N3X4W9YT', amount: 1500, reason: 'requested_by_customer', metadata: { ticket: 'T-982' } }],
          properties: {
            charge_id: { type: 'string', minLength: 1, maxLength: 255, examples: ['ch_01JD3Q7Z8C2V1A6ZK5N3X4W9YT'] },
            amount: amountSchema,
            reason: refundReasonSchema,
            metadata: metadataSchema,
          },
        },
        response: { 201: { $ref: 'Refund#' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      return answer(reply, () =>
        createRefund(
          ctx,
          { merchantId: request.scope, chargeId: body.charge_id, amount: body.amount, reason: body.reason ?? null, metadata: body.metadata ?? {} },
          requestCause(request),
          request.idempotency,
        ),
        { failpoints, name: 'refund.after_commit' },
      );
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/refunds/:id',
    {
      schema: {
        tags: ['refunds'], operationId: 'retrieveRefund',
        summary: 'Retrieve a refund',
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { $ref: 'Refund#' }, ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getRefund(ctx.pool, request.scope, request.params.id) }),
  );

  app.get<{ Querystring: { limit: number; starting_after?: string; charge_id?: string } }>(
    '/v1/refunds',
    {
      schema: {
        tags: ['refunds'], operationId: 'listRefunds',
        summary: 'List refunds, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { ...pageQuery('re'), charge_id: { type: 'string', description: 'Only refunds of this charge.' } },
        },
        response: { 200: listSchema('Refund'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { limit, starting_after, charge_id } = request.query;
      return sendApiResponse(reply, {
        status: 200,
        body: await getRefundsPage(ctx.pool, request.scope, { chargeId: charge_id, limit, startingAfter: starting_after }),
      });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/refunds/:id/attempts',
    {
      schema: {
        tags: ['refunds'], operationId: 'listRefundAttempts',
        summary: 'List the PSP calls made for a refund, newest first',
        description:
          'Every PSP call FinCore made for the refund: when, how long, the idempotency key sent (always the refund id), the outcome class (success, pending, decline, timeout, server_error, network) and the PSP code mapped to FinCore\'s. A call in flight has outcome null.',
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { ...attemptListSchema, description: 'The refund\'s PSP attempts, newest first.' }, ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getAttempts(ctx.pool, request.scope, 'refund', request.params.id) }),
  );
}
