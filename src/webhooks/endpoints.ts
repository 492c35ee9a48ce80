/**
 * The webhook endpoint API's flows: register, read, list, delete an endpoint; read its delivery
 * log; resend a delivery. Every read and write is scoped to the merchant: another merchant's
 * endpoint is missing. (Kept with the rest of the webhook feature rather than in src/flows/, so
 * the feature is one folder; like flows, these are the only webhook code opening transactions.)
 */
import { randomBytes } from 'node:crypto';
import { ParameterInvalid, ResourceMissing } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { inTransaction } from '../db/pool.ts';
import {
  deleteWebhookEndpoint as markEndpointDeleted,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  restartWebhookDelivery,
} from '../db/webhook-endpoints.ts';
import type { FlowContext } from '../flows/context.ts';
import { claimIdempotencyKey, storeIdempotentResponse, type ApiResponse, type IdempotentRequest } from '../flows/idempotency.ts';
import type { ListPage } from '../flows/queries.ts';
import { isPrivateAddress } from './deliver.ts';
import { webhookDeliveryObject, webhookEndpointObject, type WebhookDeliveryObject, type WebhookEndpointObject } from './objects.ts';

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
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!allowPrivateNetworks && (isPrivateAddress(host) || host === 'localhost' || host.endsWith('.localhost'))) {
    throw new ParameterInvalid('Invalid url: private, loopback and link-local addresses cannot receive webhooks.', 'url');
  }
  return raw;
}

/**
 * POST /v1/webhook_endpoints. The signing secret is in this response only (and in its idempotent
 * replay, which is this same response: a client that lost it to a timeout can still get it).
 */
export async function createWebhookEndpoint(ctx: FlowContext, merchantId: string, request: NewWebhookEndpoint, idempotency?: IdempotentRequest): Promise<ApiResponse> {
  const url = checkEndpointUrl(request.url, ctx.webhooks.allowPrivateNetworks);
  return inTransaction(ctx.pool, async (tx) => {
    await claimIdempotencyKey(tx, idempotency);
    const endpoint = await insertWebhookEndpoint(tx, {
      id: newId('we'),
      merchant_id: merchantId,
      url,
      enabled_events: [...new Set(request.enabledEvents)],
      description: request.description,
      secret: `whsec_${randomBytes(24).toString('base64url')}`,
    });
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

/** DELETE: the endpoint receives nothing more, its pending deliveries stop. Deleting again is harmless. */
export async function deleteWebhookEndpoint(ctx: FlowContext, merchantId: string, endpointId: string): Promise<WebhookEndpointObject> {
  const endpoint = await markEndpointDeleted(ctx.pool, merchantId, endpointId);
  if (!endpoint) throw new ResourceMissing(`No such webhook endpoint: '${endpointId}'`, 'id');
  return webhookEndpointObject(endpoint);
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
  ctx.wakeup.jobsCommitted();
  return response;
}
