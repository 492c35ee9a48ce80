/**
 * One log line per answered request (Fastify's own logging, off, writes two: "incoming request"
 * and "request completed"): method, URL, status, duration and the request id.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Why a request was refused (its error code and param), carried into its one log line. */
const refusals = new WeakMap<FastifyRequest, { code: string; param: string | undefined }>();

export function noteRefusal(request: FastifyRequest, code: string, param: string | undefined): void {
  refusals.set(request, { code, param });
}

export function registerRequestLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const durationMs = Math.round(reply.elapsedTime * 10) / 10;
    const fields = { method: request.method, url: request.url, status: reply.statusCode, duration_ms: durationMs, ...refusals.get(request) };
    const message = `${request.method} ${request.url} ${reply.statusCode} ${durationMs} ms`;
    if (reply.statusCode >= 500) request.log.error(fields, message);
    else request.log.info(fields, message);
  });
}
