/**
 * One log line per answered request (Fastify's own logging, off, writes two: "incoming request"
 * and "request completed"): method, URL, status, duration and the request id.
 */
import type { FastifyInstance } from 'fastify';

export function registerRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const durationMs = Math.round(reply.elapsedTime * 10) / 10;
    const fields = { method: request.method, url: request.url, status: reply.statusCode, duration_ms: durationMs };
    const message = `${request.method} ${request.url} ${reply.statusCode} ${durationMs} ms`;
    if (reply.statusCode >= 500) request.log.error(fields, message);
    else request.log.info(fields, message);
  });
}
