/**
 * The webhook endpoint API's flows: register, read, list, delete an endpoint, rotate its signing
 * secret; read its delivery log; resend a delivery. Registration, deletion and rotation each
 * append their event in the same transaction (the audit trail). Every read and write is scoped
 * to the merchant: another merchant's endpoint is missing. The feature's pure parts (objects,
 * signature) and its HTTP delivery stay in src/webhooks/; what opens a transaction is a flow.
 */
import { randomBytes } from 'node:crypto';
import { appendEvent, type Cause } from '../db/events.ts';
import { ALL_EVENTS, EVENT_TYPES, isEventType, type EventType } from '../domain/events.ts';
import { ParameterInvalid, ResourceMissing, WebhookEndpointLimitReached } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { inTransaction, type Queryable } from '../db/pool.ts';
import {
  countEnabledEndpointsLocked,
  deleteWebhookEndpoint as markEndpointDeleted,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  lockWebhookEndpoint,
  restartWebhookDelivery,
  rotateWebhookSecret as replaceSecret,
  type WebhookEndpointRecord,
} from '../db/webhook-endpoints.ts';
import type { FlowContext } from './context.ts';
import { claimIdempotencyKey, storeIdempotentResponse, type ApiResponse, type IdempotentRequest } from './idempotency.ts';
import type { ListPage } from './queries.ts';
import { checkUrlTarget } from '../domain/webhook-address.ts';
import { webhookDeliveryObject, webhookEndpointObject, type WebhookDeliveryObject, type WebhookEndpointObject } from '../webhooks/objects.ts';

export interface NewWebhookEndpoint {
  url: string;
  enabledEvents: string[];
  description: string | null;
}

function page<R, T>(rows: R[], limit: number, toObject: (row: R) => T): ListPage<T> {
  return { object: 'list', data: rows.slice(0, limit).map(toObject), has_more: rows.length > limit };
}

/** An absolute http(s) URL without credentials; a private address only where allowed. */
function checkEndpointUrl(raw: string, allowPrivateNetworks: boolean): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ParameterInvalid('Invalid url: not an absolute URL.', 'url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ParameterInvalid('Invalid url: only http and https URLs can receive webhooks.', 'url');
  // They would be echoed in every GET of the endpoint; use a secret path segment or verify the signature instead.
  if (url.username !== '' || url.password !== '') throw new ParameterInvalid('Invalid url: credentials in the URL are not accepted.', 'url');
  if (url.port === '0') throw new ParameterInvalid('Invalid url: port 0 cannot receive webhooks.', 'url');
  const target = checkUrlTarget(url);
  if (!allowPrivateNetworks && !target.allowed) {
    throw new ParameterInvalid(
      `Invalid url: ${target.reason}. Only public addresses receive webhooks (loopback, private, link-local, reserved and documentation ranges are refused, in every IPv4 and IPv6 form); FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true allows them for local development and tests.`,
      'url',
    );
  }
  return raw;
}

/** Known event types only (or "*"): a typo would otherwise be an endpoint that never hears anything. */
function checkEnabledEvents(requested: readonly string[]): string[] {
  const unknown = requested.filter((type) => type !== ALL_EVENTS && !isEventType(type));
  if (unknown.length > 0) {
    throw new ParameterInvalid(`Invalid enabled_events: unknown event type${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => `'${t}'`).join(', ')}. Known: ${EVENT_TYPES.join(', ')}, or '*' for all.`, 'enabled_events');
  }
  return [...new Set(requested)];
}

function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

/** The endpoint's audit event: its public object (never a secret), in the transaction `tx`. */
function endpointEvent(tx: Queryable, endpoint: WebhookEndpointRecord, change: 'created' | 'deleted' | 'secret_rotated', cause: Cause): Promise<string> {
  const type: EventType = `webhook_endpoint.${change}`;
  return appendEvent(tx, {
    merchantId: endpoint.merchant_id,
    type,
    objectType: 'webhook_endpoint',
    objectId: endpoint.id,
    data: { webhook_endpoint: webhookEndpointObject(endpoint) },
    cause,
  });
}

/**
 * POST /v1/webhook_endpoints. The signing secret is in this response only (and in its idempotent
 * replay, which is this same response: a client that lost it to a timeout can still get it).
 */
export async function createWebhookEndpoint(ctx: FlowContext, merchantId: string, request: NewWebhookEndpoint, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  const url = checkEndpointUrl(request.url, ctx.webhooks.allowPrivateNetworks);
  const enabledEvents = checkEnabledEvents(request.enabledEvents);
  return inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    // Counted under the merchant's lock: concurrent registrations cannot both take the last place.
    const enabled = await countEnabledEndpointsLocked(tx, merchantId);
    if (enabled >= ctx.webhooks.maxEndpoints) {
      throw new WebhookEndpointLimitReached(
        `This account already has ${enabled} enabled webhook endpoints, the most allowed (${ctx.webhooks.maxEndpoints}). Delete one you no longer use, or subscribe an existing endpoint to more event types.`,
      );
    }
    const endpoint = await insertWebhookEndpoint(tx, {
      id: newId('we'),
      merchant_id: merchantId,
      url,
      enabled_events: enabledEvents,
      description: request.description,
      secret: newSecret(),
    });
    await endpointEvent(tx, endpoint, 'created', cause);
    const response = { status: 201, body: { ...webhookEndpointObject(endpoint), secret: endpoint.secret } };
    await storeIdempotentResponse(tx, idempotency, response);
    return response;
  });
}

export async function getWebhookEndpoint(ctx: FlowContext, merchantId: string, endpointId: string): Promise<WebhookEndpointObject> {
  const endpoint = await findWebhookEndpoint(ctx.pool, merchantId, endpointId);
  if (!endpoint) throw new ResourceMissing(`No such webhook endpoint: '${endpointId}'`, 'id');
  return webhookEndpointObject(endpoint);
}

export async function getWebhookEndpointsPage(ctx: FlowContext, merchantId: string, limit: number, startingAfter?: string): Promise<ListPage<WebhookEndpointObject>> {
  return page(await listWebhookEndpoints(ctx.pool, merchantId, limit, startingAfter), limit, webhookEndpointObject);
}

/**
 * DELETE: the endpoint receives nothing more, its pending deliveries stop, and its event is
 * written. Deleting again is harmless (and writes no second event).
 */
export async function deleteWebhookEndpoint(ctx: FlowContext, merchantId: string, endpointId: string, cause: Cause): Promise<WebhookEndpointObject> {
  return inTransaction(ctx.pool, async (tx) => {
    const before = await lockWebhookEndpoint(tx, merchantId, endpointId);
    if (!before) throw new ResourceMissing(`No such webhook endpoint: '${endpointId}'`, 'id');
    if (before.status === 'deleted') return webhookEndpointObject(before);
    const endpoint = (await markEndpointDeleted(tx, merchantId, endpointId)) as WebhookEndpointRecord;
    await endpointEvent(tx, endpoint, 'deleted', cause);
    return webhookEndpointObject(endpoint);
  });
}

/** Default overlap of a rotation: the old secret signs for 24 hours more, like Stripe's roll. */
export const DEFAULT_ROTATION_OVERLAP_SECONDS = 86_400;

/**
 * POST /v1/webhook_endpoints/{id}/rotate_secret: a new signing secret, shown in this response only
 * (and its idempotent replay). The old one keeps signing for `expiresInSeconds` (default 24 h; 0
 * stops it at once): meanwhile FinCore-Signature carries a v1= for each, so receivers can deploy
 * the new secret without refusing a delivery.
 */
export async function rotateWebhookEndpointSecret(ctx: FlowContext, merchantId: string, endpointId: string, expiresInSeconds: number | undefined, cause: Cause, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  return inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const before = await lockWebhookEndpoint(tx, merchantId, endpointId);
    if (!before) throw new ResourceMissing(`No such webhook endpoint: '${endpointId}'`, 'id');
    if (before.status !== 'enabled') throw new ParameterInvalid(`Webhook endpoint '${endpointId}' is deleted: it has no secret to rotate.`, 'id');
    const endpoint = await replaceSecret(tx, endpointId, newSecret(), (expiresInSeconds ?? DEFAULT_ROTATION_OVERLAP_SECONDS) * 1000);
    await endpointEvent(tx, endpoint, 'secret_rotated', cause);
    const response = { status: 200, body: { ...webhookEndpointObject(endpoint), secret: endpoint.secret } };
    await storeIdempotentResponse(tx, idempotency, response);
    return response;
  });
}

export async function getWebhookDeliveriesPage(ctx: FlowContext, merchantId: string, endpointId: string, limit: number, startingAfter?: string): Promise<ListPage<WebhookDeliveryObject>> {
  if (!(await findWebhookEndpoint(ctx.pool, merchantId, endpointId))) throw new ResourceMissing(`No such webhook endpoint: '${endpointId}'`, 'id');
  return page(await listWebhookDeliveries(ctx.pool, endpointId, limit, startingAfter), limit, webhookDeliveryObject);
}

/** Queues the delivery's event to its endpoint again: a new attempt series with a fresh retry window. */
export async function resendWebhookDelivery(ctx: FlowContext, merchantId: string, endpointId: string, deliveryId: string, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  const response = await inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const endpoint = await findWebhookEndpoint(tx, merchantId, endpointId);
    if (!endpoint) throw new ResourceMissing(`No such webhook endpoint: '${endpointId}'`, 'id');
    if (endpoint.status !== 'enabled') throw new ParameterInvalid(`Webhook endpoint '${endpointId}' is deleted: it receives nothing more.`, 'id');
    const delivery = await restartWebhookDelivery(tx, merchantId, endpointId, deliveryId, { id: newId('job'), maxAttempts: ctx.webhooks.jobMaxAttempts });
    if (!delivery) throw new ResourceMissing(`No such webhook delivery: '${deliveryId}'`, 'delivery_id');
    const answer = { status: 202, body: webhookDeliveryObject(delivery) };
    await storeIdempotentResponse(tx, idempotency, answer);
    return answer;
  });
  ctx.wakeup.jobsCommitted('WEBHOOK');
  return response;
}
