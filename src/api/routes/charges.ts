import type { FastifyInstance } from 'fastify';
import { ParameterInvalid } from '../../domain/errors.ts';
import { normalizeCurrency } from '../../domain/money.ts';
import type { Metadata } from '../../domain/objects.ts';
import type { FlowContext } from '../../flows/context.ts';
import type { Failpoints } from '../failpoints.ts';
import { createCharge } from '../../flows/create-charge.ts';
import { getCharge, getChargesPage } from '../../flows/queries.ts';
import { getAttempts } from '../../flows/attempts.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { amountSchema, errorResponses, idempotencyHeader, listSchema, metadataSchema, pageQuery } from '../schemas.ts';
import { attemptListSchema } from '../schemas.ts';
import { answer, requestCause } from './respond.ts';

interface CreateChargeBody {
  amount: number;
  currency: string;
  payment_method: string;
  description?: string | null;
  metadata?: Metadata;
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
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getCharge(ctx.pool, request.scope, request.params.id) }),
  );

  app.get<{ Querystring: { limit: number; starting_after?: string } }>(
    '/v1/charges',
    {
      schema: {
        tags: ['charges'], operationId: 'listCharges',
        summary: 'List charges, newest first',
        querystring: { type: 'object', additionalProperties: false, properties: pageQuery('ch') },
        response: { 200: listSchema('Charge'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { limit, starting_after } = request.query;
      return sendApiResponse(reply, { status: 200, body: await getChargesPage(ctx.pool, request.scope, limit, starting_after) });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/charges/:id/attempts',
    {
      schema: {
        tags: ['charges'], operationId: 'listChargeAttempts',
        summary: 'List the PSP calls made for a charge, newest first',
        description:
          'Every PSP call FinCore made for the charge: when, how long, the idempotency key sent (always the charge id), the outcome class (success, pending, decline, timeout, server_error, network) and the PSP code mapped to FinCore\'s. A call in flight has outcome null.',
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { ...attemptListSchema, description: 'The charge\'s PSP attempts, newest first.' }, ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getAttempts(ctx.pool, request.scope, 'charge', request.params.id) }),
  );
}
