import type { FastifyInstance } from 'fastify';
import { ParameterInvalid } from '../../domain/errors.ts';
import { normalizeCurrency } from '../../domain/money.ts';
import type { Metadata, MetadataUpdate } from '../../domain/objects.ts';
import type { FlowContext } from '../../flows/context.ts';
import type { Failpoints } from '../failpoints.ts';
import { createCharge } from '../../flows/create-charge.ts';
import { getCharge, getChargesPage, getRefundability } from '../../flows/queries.ts';
import { updateCharge } from '../../flows/update-objects.ts';
import { CHARGE_STATUSES } from '../../domain/status.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { amountSchema, errorResponses, idempotencyHeader, createdFilter, createdFilterQuery, listSchema, merchantPageQuery, metadataSchema, metadataUpdateSchema, pageCursor, referenceFilter, referenceSchema, refundabilitySchema, statusFilter } from '../schemas.ts';
import { attemptsRoute } from './attempts.ts';
import { answer, requestCause } from './respond.ts';

interface CreateChargeBody {
  amount: number;
  currency: string;
  payment_method: string;
  description?: string | null;
  metadata?: Metadata;
  reference?: string;
}

export function chargeRoutes(app: FastifyInstance, ctx: FlowContext, failpoints: Failpoints): void {
  app.post<{ Body: CreateChargeBody }>(
    '/v1/charges',
    {
      config: { idempotencyLookupInFlow: true },
      schema: {
        tags: ['charges'], operationId: 'createCharge',
        summary: 'Create a charge (settles asynchronously)',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['amount', 'currency', 'payment_method'],
          examples: [{ amount: 5000, currency: 'usd', payment_method: 'pm_card_visa', description: 'Order 6735', metadata: { order_id: '6735' } }],
          properties: {
            amount: amountSchema,
            currency: { type: 'string', minLength: 3, maxLength: 3, description: 'ISO 4217 code, any case; returned lowercase.', examples: ['usd'] },
            payment_method: { type: 'string', minLength: 1, maxLength: 255, description: 'The PSP\'s payment method (simulator: pm_card_visa succeeds, pm_card_declined is declined).', examples: ['pm_card_visa'] },
            description: { type: ['string', 'null'], maxLength: 1000, examples: ['Order 6735'] },
            metadata: metadataSchema,
            reference: { ...referenceSchema, examples: ['order-6735'], description: 'Your reference for this charge, unique per merchant for ever: a second charge with it is refused (400 reference_already_used, naming the charge that has it), whatever its Idempotency-Key and however late.' },
          },
        },
        response: { 201: { $ref: 'Charge#' }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const currency = normalizeCurrency(body.currency);
      if (!currency) throw new ParameterInvalid(`Invalid currency: ${body.currency} is not a supported ISO 4217 currency code.`, 'currency');
      return answer(reply, () =>
        createCharge(
          ctx,
          {
            merchantId: request.scope,
            amount: body.amount,
            currency,
            paymentMethod: body.payment_method,
            description: body.description ?? null,
            metadata: body.metadata ?? {},
            reference: body.reference ?? null,
          },
          requestCause(request),
          request.idempotency,
        ),
        { failpoints, name: 'charge.after_commit' },
      );
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/charges/:id',
    {
      schema: {
        tags: ['charges'], operationId: 'retrieveCharge',
        summary: 'Retrieve a charge with its refunds',
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { $ref: 'Charge#' }, ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getCharge(ctx.pool, request.scope, request.params.id, ctx.reconcileAfterMs) }),
  );

  app.post<{ Params: { id: string }; Body: { metadata?: MetadataUpdate; description?: string | null } }>(
    '/v1/charges/:id',
    {
      schema: {
        tags: ['charges'], operationId: 'updateCharge',
        summary: "Update a charge's metadata and description",
        description:
          'Stripe semantics: metadata keys given are merged in, a key given "" is removed, keys not given stay; metadata "" removes every key; description null clears it. Nothing about the money changes. A change writes a charge.updated event (previous_attributes: the fields before); an update that changes nothing writes none.',
        headers: idempotencyHeader,
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        body: {
          type: 'object',
          additionalProperties: false,
          examples: [{ metadata: { order_id: '6735', gift: '' }, description: 'Order 6735 (2 items)' }],
          properties: {
            metadata: metadataUpdateSchema,
            description: { type: ['string', 'null'], maxLength: 1000, examples: ['Order 6735 (2 items)'] },
          },
        },
        response: { 200: { $ref: 'Charge#' }, ...errorResponses },
      },
    },
    async (request, reply) =>
      answer(reply, () => updateCharge(ctx, request.scope, request.params.id, { metadata: request.body?.metadata, description: request.body?.description }, requestCause(request), request.idempotency)),
  );

  app.get<{ Params: { id: string }; Querystring: { amount?: number } }>(
    '/v1/charges/:id/refundability',
    {
      schema: {
        tags: ['charges'], operationId: 'retrieveChargeRefundability',
        summary: 'What a refund of this charge would get now, without writing anything',
        description:
          'Decided by the same rule as POST /v1/refunds on the same facts: the amount a refund with no amount would get, or the exact contract error it would get (with ?amount=N: the error a refund of N would get), and the rules that apply. A refund created afterwards may still meet other facts (a refund or a dispute in between).',
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { amount: { type: 'integer', description: 'Check a refund of this amount (minor units) instead of everything.', examples: [1500] } },
        },
        response: { 200: refundabilitySchema, ...errorResponses },
      },
    },
    async (request, reply) =>
      sendApiResponse(reply, { status: 200, body: await getRefundability(ctx.pool, request.scope, request.params.id, request.query.amount) }),
  );

  app.get<{ Querystring: { limit: number; starting_after?: string; ending_before?: string; status?: string; 'created[gte]'?: string; 'created[lte]'?: string; reference?: string } }>(
    '/v1/charges',
    {
      schema: {
        tags: ['charges'], operationId: 'listCharges',
        summary: 'List charges, newest first',
        description: 'Filters combine. starting_after pages to older charges, ending_before to newer ones (not both); has_more: more in the direction paged.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...merchantPageQuery('ch'),
            status: statusFilter(CHARGE_STATUSES, 'Only charges in this status.'),
            ...createdFilterQuery,
            reference: referenceFilter,
          },
        },
        response: { 200: listSchema('Charge'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const body = await getChargesPage(ctx.pool, request.scope, {
        limit: query.limit,
        ...pageCursor(query),
        status: query.status,
        ...createdFilter(query),
        reference: query.reference,
      }, ctx.reconcileAfterMs);
      return sendApiResponse(reply, { status: 200, body });
    },
  );

  attemptsRoute(app, ctx, 'charge');
}
