import { webhookIntake } from '../../metrics.ts';
import type { FastifyInstance } from 'fastify';
import { ParameterInvalid } from '../../domain/errors.ts';
import type { FlowContext } from '../../flows/context.ts';
import { ingestPspWebhook, isUnverifiedWebhook, pspWebhookIntakes } from '../../flows/ingest-webhook.ts';
import { errorResponses } from '../schemas.ts';

/**
 * The PSPs' signed webhooks: one route per configured PSP (FINCORE_PSP and FINCORE_PSPS_ENABLED),
 * each verified by that PSP's gateway. Registered in its own encapsulated context whose body
 * parser keeps the raw bytes: the signature is checked on exactly what was sent, before anything
 * is parsed.
 */
export async function webhookRoutes(app: FastifyInstance, ctx: FlowContext): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    for (const { pspName, path, signatureHeader } of pspWebhookIntakes(ctx)) {
      scope.post<{ Body: Buffer }>(
        path,
        {
          config: { auth: 'none' },
          schema: {
            tags: ['webhooks'],
            operationId: `receive${pspName[0]?.toUpperCase() ?? ''}${pspName.slice(1)}Webhook`,
            summary: `The ${pspName} PSP's signed event (header ${signatureHeader}: t=<unix>,v1=<hex hmac-sha256 of t.body>)`,
            response: {
              200: { type: 'object', properties: { received: { type: 'boolean' }, duplicate: { type: 'boolean' }, ignored: { type: 'boolean' }, malformed: { type: 'boolean' } } },
              ...errorResponses,
            },
          },
        },
        async (request, reply) => {
          const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          try {
            const { eventId, result, malformedReason } = await ingestPspWebhook(ctx, pspName, raw, request.headers);
            webhookIntake.inc({ result });
            if (result === 'malformed') request.log.warn({ pspEventId: eventId, reason: malformedReason }, 'signed PSP webhook is unreadable: kept in psp_events for an operator, acknowledged');
            return reply.code(200).send({ received: true, duplicate: result === 'duplicate', ignored: result === 'not_for_fincore', malformed: result === 'malformed' });
          } catch (error) {
            if (isUnverifiedWebhook(error)) webhookIntake.inc({ result: 'rejected_signature' });
            if (isUnverifiedWebhook(error)) throw new ParameterInvalid(`Webhook rejected: ${error.message}`, signatureHeader);
            throw error;
          }
        },
      );
    }
  });
}
