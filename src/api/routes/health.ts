import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { ServiceUnavailable } from '../../domain/errors.ts';
import { databaseReachable } from '../../flows/operations.ts';

const statusBody = (status: string) => ({ type: 'object', required: ['status'], properties: { status: { type: 'string', enum: [status] } } }) as const;
// No key needed; still rate-limited per client address (429), and 503 while shutting down.
const refusals = { 429: { $ref: 'Error#' }, 503: { $ref: 'Error#' } } as const;

export function healthRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get(
    '/healthz',
    { config: { auth: 'none' }, schema: { tags: ['operations'], operationId: 'getHealth', summary: 'The process is up (liveness)', response: { 200: { ...statusBody('ok'), description: 'The process answers.' }, ...refusals } } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['operations'],
        operationId: 'getReadiness',
        summary: 'The database is reachable (readiness): 503 when it is not',
        response: { 200: { ...statusBody('ready'), description: 'The database answers: send traffic here.' }, ...refusals },
      },
    },
    async () => {
      if (!(await databaseReachable(pool))) throw new ServiceUnavailable('The database is not reachable.');
      return { status: 'ready' };
    },
  );
}
