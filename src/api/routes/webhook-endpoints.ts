import type { FastifyInstance } from 'fastify';
import type { FlowContext } from '../../flows/context.ts';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookDeliveriesPage,
  getWebhookEndpoint,
  getWebhookEndpointsPage,
  resendWebhookDelivery,
  rotateWebhookEndpointSecret,
} from '../../flows/webhook-endpoints.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { errorResponses, idempotencyHeader, listSchema, pageQuery } from '../schemas.ts';
import { answer, requestCause } from './respond.ts';

const timestamp = { type: 'string', format: 'date-time' } as const;

const endpointProperties = {
  id: { type: 'string', description: 'Prefix we_' },
  object: { type: 'string', enum: ['webhook_endpoint'] },
  url: { type: 'string' },
  enabled_events: { type: 'array', items: { type: 'string' } },
  description: { type: ['string', 'null'] },
  status: {
    type: 'string',
    enum: ['enabled', 'paused', 'deleted'],
    description: 'paused: its circuit breaker is open after failing for a while; deliveries wait until paused_until, then one probe goes out and a success resumes it. A deleted endpoint receives nothing more; its pending deliveries are stopped (failed).',
  },
  paused_until: { type: ['string', 'null'], format: 'date-time', description: 'When the next probe delivery goes out; null unless paused.' },
  disabled_reason: { type: ['string', 'null'], description: 'Why it is paused: failed attempts in a row, since when, the last answer; null unless paused.' },
  previous_secret_expires_at: { type: ['string', 'null'], format: 'date-time', description: 'Until when the secret replaced by the last rotation still signs deliveries; null outside an overlap.' },
  created_at: timestamp,
} as const;
const endpointRequired = ['id', 'object', 'url', 'enabled_events', 'description', 'status', 'paused_until', 'disabled_reason', 'previous_secret_expires_at', 'created_at'] as const;

// Two schemas on purpose: the serializer drops what a schema does not list, so no read of an
// endpoint can ever carry its secret, whatever the object it is handed.
export const webhookEndpointSchema = { $id: 'WebhookEndpoint', type: 'object', required: endpointRequired, properties: endpointProperties } as const;
export const createdWebhookEndpointSchema = {
  $id: 'WebhookEndpointWithSecret',
  type: 'object',
  required: [...endpointRequired, 'secret'],
  properties: {
    ...endpointProperties,
    secret: { type: 'string', description: 'Prefix whsec_. The key that signs every delivery (FinCore-Signature). Shown only in this response (and in its idempotent replay): at creation and at each rotation.' },
  },
} as const;

export const webhookDeliverySchema = {
  $id: 'WebhookDelivery',
  type: 'object',
  required: ['id', 'object', 'endpoint_id', 'event_id', 'event_type', 'status', 'attempts', 'last_attempt_at', 'last_response_status', 'last_error', 'next_attempt_at', 'created_at'],
  properties: {
    id: { type: 'string', description: 'Prefix whd_' },
    object: { type: 'string', enum: ['webhook_delivery'] },
    endpoint_id: { type: 'string' },
    event_id: { type: 'string' },
    event_type: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
    attempts: { type: 'integer', description: 'HTTP attempts made, resends included.' },
    last_attempt_at: { type: ['string', 'null'], format: 'date-time' },
    last_response_status: { type: ['integer', 'null'], description: 'null when the endpoint gave no answer (timeout, connection refused).' },
    last_error: { type: ['string', 'null'], description: "The endpoint's answer (first 1 KB) or the network error of the last failed attempt." },
    next_attempt_at: { type: ['string', 'null'], format: 'date-time' },
    created_at: timestamp,
  },
} as const;

const endpointParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;

interface CreateWebhookEndpointBody {
  url: string;
  enabled_events: string[];
  description?: string | null;
}

export function webhookEndpointRoutes(app: FastifyInstance, ctx: FlowContext): void {
  for (const schema of [webhookEndpointSchema, createdWebhookEndpointSchema, webhookDeliverySchema]) app.addSchema(schema);

  app.post<{ Body: CreateWebhookEndpointBody }>(
    '/v1/webhook_endpoints',
    {
      schema: {
        tags: ['webhooks'], operationId: 'createWebhookEndpoint',
        summary: 'Register a URL to receive events (signed POSTs). The signing secret is shown only in this response.',
        headers: idempotencyHeader,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['url', 'enabled_events'],
          examples: [{ url: 'https://shop.example.com/fincore/webhooks', enabled_events: ['charge.succeeded', 'charge.failed', 'refund.succeeded', 'refund.failed'], description: 'Order fulfilment' }],
          properties: {
            url: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'http or https, at most 2048 characters.' },
            enabled_events: {
              type: 'array',
              minItems: 1,
              maxItems: 100,
              items: { type: 'string', maxLength: 100, pattern: '^(\\*|[a-z][a-z_]*(\\.[a-z][a-z_]*)+)$' },
              description: 'Known event types (e.g. "refund.succeeded"; see GET /v1/events), or "*" for all. An unknown type is a 400 parameter_invalid.',
            },
            description: { type: ['string', 'null'], maxLength: 1000 },
          },
        },
        response: { 201: { $ref: 'WebhookEndpointWithSecret#' }, ...errorResponses },
      },
    },
    async (request, reply) =>
      answer(reply, () =>
        createWebhookEndpoint(ctx, request.scope, { url: request.body.url, enabledEvents: request.body.enabled_events, description: request.body.description ?? null }, requestCause(request), request.idempotency),
      ),
  );

  app.get<{ Querystring: { limit: number; starting_after?: string } }>(
    '/v1/webhook_endpoints',
    {
      schema: {
        tags: ['webhooks'], operationId: 'listWebhookEndpoints',
        summary: 'List webhook endpoints, newest first (deleted ones included, with status "deleted")',
        querystring: { type: 'object', additionalProperties: false, properties: pageQuery('we') },
        response: { 200: listSchema('WebhookEndpoint'), ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getWebhookEndpointsPage(ctx, request.scope, request.query.limit, request.query.starting_after) }),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/webhook_endpoints/:id',
    {
      schema: { tags: ['webhooks'], operationId: 'retrieveWebhookEndpoint', summary: 'Retrieve a webhook endpoint (never its secret)', params: endpointParams, response: { 200: { $ref: 'WebhookEndpoint#' }, ...errorResponses } },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await getWebhookEndpoint(ctx, request.scope, request.params.id) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/webhook_endpoints/:id',
    {
      schema: {
        tags: ['webhooks'], operationId: 'deleteWebhookEndpoint',
        summary: 'Delete a webhook endpoint: it receives nothing more and its pending deliveries stop. Answers the endpoint with status "deleted".',
        params: endpointParams,
        response: { 200: { $ref: 'WebhookEndpoint#' }, ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await deleteWebhookEndpoint(ctx, request.scope, request.params.id, requestCause(request)) }),
  );

  app.post<{ Params: { id: string }; Body: { expires_in_seconds?: number } | undefined }>(
    '/v1/webhook_endpoints/:id/rotate_secret',
    {
      schema: {
        tags: ['webhooks'], operationId: 'rotateWebhookEndpointSecret',
        summary:
          'Replace the signing secret. The new one is in this response only; the old one keeps signing for expires_in_seconds (default 86400, 0: stops now), each delivery carrying one v1= per valid secret meanwhile.',
        headers: idempotencyHeader,
        params: endpointParams,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { expires_in_seconds: { type: 'integer', minimum: 0, maximum: 604_800, description: 'How long the old secret keeps signing: 0 to 7 days, default 24 hours.' } },
        },
        response: { 200: { $ref: 'WebhookEndpointWithSecret#' }, ...errorResponses },
      },
    },
    async (request, reply) =>
      answer(reply, () => rotateWebhookEndpointSecret(ctx, request.scope, request.params.id, request.body?.expires_in_seconds, requestCause(request), request.idempotency)),
  );

  app.get<{ Params: { id: string }; Querystring: { limit: number; starting_after?: string } }>(
    '/v1/webhook_endpoints/:id/deliveries',
    {
      schema: {
        tags: ['webhooks'], operationId: 'listWebhookDeliveries',
        summary: "The endpoint's delivery log, newest first",
        params: endpointParams,
        querystring: { type: 'object', additionalProperties: false, properties: pageQuery('whd') },
        response: { 200: listSchema('WebhookDelivery'), ...errorResponses },
      },
    },
    async (request, reply) =>
      sendApiResponse(reply, { status: 200, body: await getWebhookDeliveriesPage(ctx, request.scope, request.params.id, request.query.limit, request.query.starting_after) }),
  );

  app.post<{ Params: { id: string; delivery_id: string } }>(
    '/v1/webhook_endpoints/:id/deliveries/:delivery_id/resend',
    {
      schema: {
        tags: ['webhooks'], operationId: 'resendWebhookDelivery',
        summary: 'Send the delivery\'s event to the endpoint again (a new attempt series with a fresh retry window)',
        headers: idempotencyHeader,
        params: { type: 'object', properties: { id: { type: 'string' }, delivery_id: { type: 'string' } }, required: ['id', 'delivery_id'] },
        response: { 202: { $ref: 'WebhookDelivery#' }, ...errorResponses },
      },
    },
    async (request, reply) => answer(reply, () => resendWebhookDelivery(ctx, request.scope, request.params.id, request.params.delivery_id, request.idempotency)),
  );
}
