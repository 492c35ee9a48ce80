/**
 * Operator actions the CLI sends to a running FinCore (`fincore reconcile`, `fincore audit
 * verify`) when it cannot open the database itself: an embedded data dir has one opener.
 */
import type { FastifyInstance } from 'fastify';
import type { FlowContext } from '../../flows/context.ts';
import { reconcileNow, reconciliationDrift, verifyAudit } from '../../flows/operations.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';
import { errorResponses } from '../schemas.ts';

const anyObject = { type: 'object', additionalProperties: true } as const;
const admin = { auth: 'admin' as const };

export function operationRoutes(app: FastifyInstance, ctx: FlowContext): void {
  app.post<{ Body: { older_than_ms?: number; recheck_all?: boolean } | undefined }>(
    '/v1/admin/reconcile',
    {
      config: admin,
      schema: {
        tags: ['admin'],
        operationId: 'runReconciliation',
        summary:
          'One reconciliation sweep now: pending charges and refunds older than older_than_ms (0: all) are asked about at their PSP; then the charges and refunds settled within FINCORE_RECONCILE_TERMINAL_WINDOW_MS are re-read (recheck_all: whatever their last check) and late moves or reviews applied; refunds canceled within the window are looked up too, and one the PSP holds opens a canceled_refund_at_psp review',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { older_than_ms: { type: 'integer', minimum: 0, maximum: 86_400_000, default: 30_000 }, recheck_all: { type: 'boolean', default: false } },
        },
        response: { 200: anyObject, ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await reconcileNow(ctx, request.body?.older_than_ms ?? 30_000, { recheckAll: request.body?.recheck_all === true }) }),
  );

  app.get<{ Querystring: { older_than_ms?: number } }>(
    '/v1/admin/reconcile/report',
    {
      config: admin,
      schema: {
        tags: ['admin'],
        operationId: 'getReconciliationReport',
        summary:
          'The drift between FinCore and its PSPs, changing nothing: charges and refunds settled within FINCORE_RECONCILE_TERMINAL_WINDOW_MS and those pending longer than older_than_ms, compared with what their PSP holds (status_differs, amount_or_currency_differs, unknown_at_psp, canceled_refund_at_psp: a canceled refund the PSP holds, psp_errors)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { older_than_ms: { type: 'integer', minimum: 0, maximum: 86_400_000, default: 30_000 } },
        },
        response: { 200: anyObject, ...errorResponses },
      },
    },
    async (request, reply) => sendApiResponse(reply, { status: 200, body: await reconciliationDrift(ctx, request.query.older_than_ms ?? 30_000) }),
  );

  app.get(
    '/v1/admin/audit/verify',
    { config: admin, schema: { tags: ['admin'], operationId: 'verifyAudit', summary: 'Recompute every audit hash chain and check the ledger against charges and refunds', response: { 200: anyObject, ...errorResponses } } },
    async (_request, reply) => sendApiResponse(reply, { status: 200, body: await verifyAudit(ctx) }),
  );
}
