import type { FastifyInstance } from 'fastify';
import type { FlowContext } from '../../flows/context.ts';
import { getEvent, getEventsPage } from '../../flows/queries.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { errorResponses, eventTypeFilter, createdFilter, createdFilterQuery, listSchema, merchantPageQuery, pageCursor } from '../schemas.ts';

interface EventsQuery {
  limit: number;
  starting_after?: string;
  ending_before?: string;
  type?: string;
  object_id?: string;
  'created[gte]'?: string;
  'created[lte]'?: string;
}

export function eventRoutes(app: FastifyInstance, ctx: FlowContext): void {
  app.get<{ Querystring: EventsQuery }>(
    '/v1/events',
    {
      schema: {
        tags: ['events'], operationId: 'listEvents',
        summary: "List the merchant's events, newest first",
        description: 'Every change of a charge or refund, with its snapshot, cause and per-object sequence. Filters combine. starting_after pages to older events, ending_before to newer ones (not both); has_more: more in the direction paged.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...merchantPageQuery('evt'),
            type: eventTypeFilter,
            object_id: { type: 'string', maxLength: 255, description: 'Only events of this object (ch_..., re_...): its timeline, newest first.' },
            ...createdFilterQuery,
          },
        },
        response: { 200: listSchema('Event'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const body = await getEventsPage(ctx.pool, request.scope, {
        limit: query.limit,
        ...pageCursor(query),
        type: query.type,
        objectId: query.object_id,
        ...createdFilter(query),
      });
      return sendApiResponse(reply, { status: 200, body });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/events/:id',
    {
      schema: {
        tags: ['events'], operationId: 'retrieveEvent',
        summary: 'Retrieve an event',
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { $ref: 'Event#' }, ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getEvent(ctx.pool, request.scope, request.params.id) }),
  );
}
