/**
 * Review items (admin key): PSP reports FinCore could not apply safely, and PSP events it could not
 * tie to an object, waiting for an operator (src/flows/reviews.ts). Listing and reading them, and
 * resolving one: the object takes the PSP's word or keeps FinCore's, with its event, its journal
 * entry when money moves, and a review.resolved event carrying the operator's note.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Cause } from '../../flows/cause.ts';
import type { FlowContext } from '../../flows/context.ts';
import { getReviewItem, listReviewItems, resolveReview } from '../../flows/reviews.ts';
import type { ReviewDecision } from '../../domain/psp-report.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { errorResponses, listSchema, pageQuery, resolveReviewBody } from '../schemas.ts';

const admin = { auth: 'admin' as const };
const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 255 } }, required: ['id'] } as const;

interface ReviewsQuery {
  limit: number;
  starting_after?: string;
  status?: 'open' | 'resolved';
  merchant_id?: string;
}

/** An operator's decision is its own cause: the admin request that carried it. */
function operatorCause(request: FastifyRequest): Cause {
  return { type: 'operator', id: request.id, idempotencyKey: request.idempotency?.key ?? null };
}

export function reviewRoutes(app: FastifyInstance, ctx: FlowContext): void {
  app.get<{ Querystring: ReviewsQuery }>(
    '/v1/admin/reviews',
    {
      config: admin,
      schema: {
        tags: ['admin'], operationId: 'listReviews',
        summary: 'Review items of every merchant, newest first (filters: status, merchant_id)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQuery('rev'),
            status: { type: 'string', enum: ['open', 'resolved'], description: 'Only open (waiting for an operator) or resolved items.' },
            merchant_id: { type: 'string', maxLength: 255, description: "Only this merchant's items." },
          },
        },
        response: { 200: { ...listSchema('Review'), properties: { ...listSchema('Review').properties, url: { type: 'string' } } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { status, merchant_id, limit, starting_after } = request.query;
      return sendApiResponse(reply, { status: 200, body: await listReviewItems(ctx, { status, merchantId: merchant_id }, limit, starting_after) });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/admin/reviews/:id',
    { config: admin, schema: { tags: ['admin'], operationId: 'retrieveReview', summary: 'A review item, open or resolved', params: idParams, response: { 200: { $ref: 'Review#' }, ...errorResponses } } },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getReviewItem(ctx, request.params.id) }),
  );

  app.post<{ Params: { id: string }; Body: { decision: ReviewDecision; note: string } }>(
    '/v1/admin/reviews/:id/resolve',
    {
      config: admin,
      schema: {
        tags: ['admin'], operationId: 'resolveReview',
        summary: "Resolve a review item: accept the PSP's outcome or keep FinCore's",
        description:
          "One transaction: the object leaves requires_review for the status the decision names, with its event, a journal entry when money moves, and a review.resolved event carrying the note. A resolved item answers 400 review_already_resolved.",
        params: idParams,
        body: resolveReviewBody,
        response: { 200: { $ref: 'Review#' }, ...errorResponses },
      },
    },
    async (request, reply) =>
      sendApiResponse(reply, { status: 200, body: await resolveReview(ctx, request.params.id, request.body.decision, request.body.note, operatorCause(request)) }),
  );
}
