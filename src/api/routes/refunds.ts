import type { FastifyInstance } from 'fastify';
import type { Metadata, MetadataUpdate, RefundRecord } from '../../domain/objects.ts';
import type { FlowContext } from '../../flows/context.ts';
import type { Failpoints } from '../failpoints.ts';
import { cancelRefund } from '../../flows/cancel-refund.ts';
import { createRefund } from '../../flows/create-refund.ts';
import { getRefund, getRefundsPage } from '../../flows/queries.ts';
import { updateRefund } from '../../flows/update-objects.ts';
import { REFUND_STATUSES } from '../../domain/status.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { amountSchema, errorResponses, idempotencyHeader, createdFilter, createdFilterQuery, listSchema, merchantPageQuery, metadataSchema, metadataUpdateSchema, pageCursor, referenceFilter, referenceSchema, refundReasonSchema, statusFilter } from '../schemas.ts';
import { attemptsRoute } from './attempts.ts';
import { answer, requestCause } from './respond.ts';

interface CreateRefundBody {
  charge_id: string;
  amount?: number;
  reason?: RefundRecord['reason'];
  metadata?: Metadata;
  reference?: string;
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
            reference: { ...referenceSchema, description: 'Your reference for this refund, unique per charge for ever: a second refund of the charge with it is refused (400 reference_already_used, naming the refund that has it), whatever its Idempotency-Key and however late.' },
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
          { merchantId: request.scope, chargeId: body.charge_id, amount: body.amount, reason: body.reason ?? null, metadata: body.metadata ?? {}, reference: body.reference ?? null },
          requestCause(request),
          request.idempotency,
        ),
        { failpoints, name: 'refund.after_commit' },
      );
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/refunds/:id/cancel',
    {
      schema: {
        tags: ['refunds'], operationId: 'cancelRefund',
        summary: 'Cancel a refund before it is sent to the PSP',
        description:
          'Succeeds only while no PSP call for the refund has been started (its job not yet taken by a worker), or while every call so far failed before its request could reach the PSP (its job waits and every attempt ended not_sent: the connection could not be opened): the refund becomes canceled, its amount is refundable again and refund.canceled is sent. Once the PSP may have seen it (being sent, an attempt that may have reached the PSP such as a timeout, or settled): 400 refund_not_cancelable, saying why (naming the attempt and its outcome). Racing the worker, exactly one of the two wins.',
        headers: idempotencyHeader,
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { $ref: 'Refund#' }, ...errorResponses },
      },
    },
    async (request, reply) => answer(reply, () => cancelRefund(ctx, request.scope, request.params.id, requestCause(request), request.idempotency)),
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
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getRefund(ctx.pool, request.scope, request.params.id, ctx.reconcileAfterMs) }),
  );

  app.post<{ Params: { id: string }; Body: { metadata?: MetadataUpdate } }>(
    '/v1/refunds/:id',
    {
      schema: {
        tags: ['refunds'], operationId: 'updateRefund',
        summary: "Update a refund's metadata",
        description:
          'Stripe semantics: metadata keys given are merged in, a key given "" is removed, keys not given stay; metadata "" removes every key. Nothing else of a refund changes. A change writes a refund.updated event (previous_attributes: { metadata: <before> }); an update that changes nothing writes none.',
        headers: idempotencyHeader,
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        body: {
          type: 'object',
          additionalProperties: false,
          examples: [{ metadata: { ticket: 'T-982', escalated: '' } }],
          properties: { metadata: metadataUpdateSchema },
        },
        response: { 200: { $ref: 'Refund#' }, ...errorResponses },
      },
    },
    async (request, reply) =>
      answer(reply, () => updateRefund(ctx, request.scope, request.params.id, { metadata: request.body?.metadata }, requestCause(request), request.idempotency)),
  );

  app.get<{ Querystring: { limit: number; starting_after?: string; ending_before?: string; charge_id?: string; status?: string; 'created[gte]'?: string; 'created[lte]'?: string; reference?: string } }>(
    '/v1/refunds',
    {
      schema: {
        tags: ['refunds'], operationId: 'listRefunds',
        summary: 'List refunds, newest first',
        description: 'Filters combine. starting_after pages to older refunds, ending_before to newer ones (not both); has_more: more in the direction paged.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...merchantPageQuery('re'),
            charge_id: { type: 'string', description: 'Only refunds of this charge.' },
            status: statusFilter(REFUND_STATUSES, 'Only refunds in this status.'),
            ...createdFilterQuery,
            reference: referenceFilter,
          },
        },
        response: { 200: listSchema('Refund'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const query = request.query;
      return sendApiResponse(reply, {
        status: 200,
        body: await getRefundsPage(ctx.pool, request.scope, {
          chargeId: query.charge_id,
          limit: query.limit,
          ...pageCursor(query),
          status: query.status,
          ...createdFilter(query),
          reference: query.reference,
        }, ctx.reconcileAfterMs),
      });
    },
  );

  attemptsRoute(app, ctx, 'refund');
}
