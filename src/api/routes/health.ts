import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { ServiceUnavailable } from '../../domain/errors.ts';
import { databaseReachable } from '../../flows/operations.ts';

export function healthRoutes(app: FastifyInstance, pool: pg.Pool): void {
  app.get('/healthz', { config: { auth: 'none' }, schema: { tags: ['health'], summary: 'The process is up' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { auth: 'none' }, schema: { tags: ['health'], summary: 'The database is reachable' } }, async () => {
    if (!(await databaseReachable(pool))) throw new ServiceUnavailable('The database is not reachable.');
    return { status: 'ready' };
  });
}
