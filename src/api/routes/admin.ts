/**
 * The operator's API (admin key): what the dashboard shows and the one action it takes (retry a
 * dead job). Across merchants; read-only otherwise.
 */
import type { FastifyInstance } from 'fastify';
import { adminChargeDetail, adminChargesPage, adminDeadJobs, adminEndpoints, adminMerchantsList, adminOverview, adminRefundsPage, adminRetryJob, adminTotals } from '../../flows/admin.ts';
import type { FlowContext } from '../../flows/context.ts';
import { requestsAnsweredTotal } from '../../metrics.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { CHARGE_STATUSES, REFUND_STATUSES } from '../../domain/status.ts';
import { ADMIN_SCHEMAS } from '../admin-schemas.ts';
import { errorResponses, instant, instantFilter, listSchema, pageQuery, paginationQuery } from '../schemas.ts';

const admin = { auth: 'admin' as const };
/** The 200 answer's schema (admin-schemas.ts), with the error answers. */
const ok = (success: Record<string, unknown>) => ({ 200: success, ...errorResponses });
const one = (name: string) => ok({ $ref: `${name}#` });
const list = (name: string) => ok(listSchema(name));

interface ListQuery {
  limit: number;
  starting_after?: string;
  merchant_id?: string;
  status?: string;
  currency?: string;
  charge_id?: string;
  'created[gte]'?: string;
  'created[lte]'?: string;
}

// Each list filters by its own object's statuses (a refund can be canceled, a charge cannot).
const listQuery = (prefix: 'ch' | 're', extra: Record<string, unknown> = {}) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    ...pageQuery(prefix),
    merchant_id: { type: 'string', maxLength: 255 },
    status: { type: 'string', enum: prefix === 'ch' ? CHARGE_STATUSES : REFUND_STATUSES },
    currency: { type: 'string', pattern: '^[a-z]{3}$', 'x-expected': 'a three-letter ISO 4217 currency code in lowercase, e.g. usd' },
    'created[gte]': instantFilter('Created at or after.'),
    'created[lte]': instantFilter('Created at or before.'),
    ...extra,
  },
});

function filterOf(query: ListQuery) {
  return {
    merchantId: query.merchant_id,
    status: query.status,
    currency: query.currency,
    chargeId: query.charge_id,
    createdGte: instant(query['created[gte]'], 'created[gte]'),
    createdLte: instant(query['created[lte]'], 'created[lte]'),
  };
}

export function adminRoutes(app: FastifyInstance, ctx: FlowContext): void {
  for (const adminSchema of ADMIN_SCHEMAS) app.addSchema(adminSchema);
  const schema = (operationId: string, response: Record<string, unknown>, summary: string, extra: Record<string, unknown> = {}) => ({ tags: ['admin'], operationId, summary, response, ...extra });

  app.get('/v1/admin/overview', { config: admin, schema: schema('getAdminOverview', one('Overview'), 'Totals across merchants: money by currency, statuses, queue, audit backlog') }, async (_request, reply) =>
    sendApiResponse(reply, { status: 200, body: await adminOverview(ctx.pool) }),
  );

  app.get('/v1/admin/stats', { config: admin, schema: schema('getAdminStats', one('Stats'), 'Cumulative totals (poll twice for rates) and settle latency over the last 60 s') }, async (_request, reply) =>
    sendApiResponse(reply, { status: 200, body: { object: 'stats', at: new Date().toISOString(), requests_total: requestsAnsweredTotal(), ...(await adminTotals(ctx.pool, 60)) } }),
  );

  app.get('/v1/admin/merchants', { config: admin, schema: schema('listAdminMerchants', list('AdminMerchant'), 'Merchants, newest first') }, async (_request, reply) =>
    sendApiResponse(reply, { status: 200, body: await adminMerchantsList(ctx.pool) }),
  );

  app.get<{ Querystring: ListQuery }>('/v1/admin/charges', { config: admin, schema: schema('listAdminCharges', list('AdminCharge'), 'Charges of every merchant, newest first, with filters', { querystring: listQuery('ch') }) }, async (request, reply) =>
    sendApiResponse(reply, { status: 200, body: await adminChargesPage(ctx.pool, filterOf(request.query), request.query.limit, request.query.starting_after) }),
  );

  app.get<{ Querystring: ListQuery }>(
    '/v1/admin/refunds',
    { config: admin, schema: schema('listAdminRefunds', list('AdminRefund'), 'Refunds of every merchant, newest first, with filters', { querystring: listQuery('re', { charge_id: { type: 'string', maxLength: 255 } }) }) },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await adminRefundsPage(ctx.pool, filterOf(request.query), request.query.limit, request.query.starting_after) }),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/admin/charges/:id',
    { config: admin, schema: schema('retrieveAdminCharge', one('ChargeDetail'), 'A charge with its refunds, refundable amount, ledger postings and event timeline', { params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } }) },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await adminChargeDetail(ctx.pool, request.params.id, ctx.reconcileAfterMs) }),
  );

  app.get<{ Querystring: { status: 'dead'; limit: number } }>(
    '/v1/admin/jobs',
    {
      config: admin,
      schema: schema('listDeadJobs', list('Job'), 'Dead-lettered jobs, most recently dead first', {
        querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['dead'], default: 'dead' }, limit: paginationQuery.limit } },
      }),
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await adminDeadJobs(ctx.pool, request.query.limit) }),
  );

  app.post<{ Params: { id: string } }>(
    '/v1/admin/jobs/:id/retry',
    { config: admin, schema: schema('retryJob', one('Job'), 'Queue a dead job again with fresh attempts (replaying twice is harmless)', { params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } }) },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await adminRetryJob(ctx, request.params.id) }),
  );

  app.get<{ Querystring: { merchant_id?: string } }>(
    '/v1/admin/webhook_endpoints',
    {
      config: admin,
      schema: schema('listAdminWebhookEndpoints', list('AdminWebhookEndpoint'), "Merchants' webhook endpoints with their delivery counts", {
        querystring: { type: 'object', additionalProperties: false, properties: { merchant_id: { type: 'string', maxLength: 255 } } },
      }),
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await adminEndpoints(ctx.pool, request.query.merchant_id) }),
  );
}
