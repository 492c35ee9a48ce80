/**
 * buildApp assembles the Fastify application; it never listens (tests use it over real HTTP
 * via listen in main.ts, or inject). Plugins: request ids, auth, idempotency, one error mapper.
 */
import { countRequestAnswered, httpDuration, registry } from '../metrics.ts';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { Ajv, type Options as AjvOptions } from 'ajv';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { newId } from '../domain/ids.ts';
import type { FlowContext } from '../flows/context.ts';
import { Failpoints } from './failpoints.ts';
import { errorBody, sendError, toContractError } from './errors.ts';
import { ApiKeyCache, registerAuth } from './plugins/auth.ts';
import { registerIdempotency, rememberRefusal, sendApiResponse } from './plugins/idempotency.ts';
import { ContractError, IdempotencyKeyReused, MalformedRequest, ResourceMissing, ServiceUnavailable, UriTooLong } from '../domain/errors.ts';
import type { HttpLimits } from '../config.ts';
import { applyServerLimits, DEFAULT_HTTP_LIMITS, serverOptions } from './http-server.ts';
import { registerJsonBodyParser } from './json-body.ts';
import { swaggerOptions } from './openapi.ts';
import { registerStorableText } from './plugins/storable-text.ts';
import { IDEMPOTENCY_TTL_HOURS } from '../domain/idempotency.ts';
import { NO_RATE_LIMITS, registerRateLimit, type RateLimits } from './plugins/rate-limit.ts';
import { noteRefusal, registerRequestLog } from './plugins/request-log.ts';
import { chargeRoutes } from './routes/charges.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { healthRoutes } from './routes/health.ts';
import { merchantRoutes } from './routes/merchants.ts';
import { refundRoutes } from './routes/refunds.ts';
import { eventRoutes } from './routes/events.ts';
import { adminRoutes } from './routes/admin.ts';
import { reviewRoutes } from './routes/reviews.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { operationRoutes } from './routes/operations.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { webhookEndpointRoutes } from './routes/webhook-endpoints.ts';
import { attemptSchema, chargeSchema, errorSchema, eventSchema, merchantSchema, refundSchema, reviewSchema } from './schemas.ts';

export interface AppOptions {
  ctx: FlowContext;
  adminKey: string;
  bodyLimitBytes: number;
  /** Rate limits (plugins/rate-limit.ts); none when omitted. */
  rateLimits?: RateLimits;
  /** Fastify's trustProxy: whose X-Forwarded-For names the client (FINCORE_TRUST_PROXY). */
  trustProxy?: boolean | number | string[];
  /** API key cache TTL, ms: how long a revoked key may still work in another process. */
  apiKeyCacheMs?: number;
  logger: Logger;
  version: string;
  /** The HTTP server's timeouts and connection cap (config.http); the config defaults if omitted. */
  http?: HttpLimits;
  /** Armed failpoints (tests only); none by default. */
  failpoints?: Failpoints;
  /** How long a stored Idempotency-Key answer counts (FINCORE_IDEMPOTENCY_TTL_HOURS); 24 by default. */
  idempotencyTtlHours?: number;
}

/** Trust the n proxies nearest to us (Fastify's numeric trustProxy, which its types omit). */
const trustHops = (hops: number) => (_address: string, hop: number) => hop < hops;

// verbose: a failed `pattern` carries its schema, whose `x-expected` says in words what a raw
// regular expression would not (src/api/errors.ts).
const ajvOptions: AjvOptions = { allErrors: false, strict: false, allowUnionTypes: true, verbose: true };

/** Longest request target read (path and query); longer: 414. Node's 16 KB header limit comes after. */
export const MAX_URL_LENGTH = 8192;

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { ctx } = options;
  // Bodies are taken exactly as sent: no coercion ("100" is not an amount), nothing removed or
  // defaulted (unknown fields are an error). Query strings arrive as text and are coerced.
  const bodyAjv = new Ajv({ ...ajvOptions, coerceTypes: false, removeAdditional: false, useDefaults: false });
  const queryAjv = new Ajv({ ...ajvOptions, coerceTypes: true, removeAdditional: false, useDefaults: true });
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps FastifyInstance's default generics.
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes,
    genReqId: () => newId('req'),
    requestIdHeader: false,
    trustProxy: typeof options.trustProxy === 'number' ? trustHops(options.trustProxy) : (options.trustProxy ?? false),
    // Requests arriving while closing are answered 503 by the onRequest hook below, in the
    // contract's shape; Fastify's own 503 body is not.
    return503OnClosing: false,
    // registerRequestLog writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: ajvOptions },
    ...serverOptions(options.http ?? DEFAULT_HTTP_LIMITS),
  });
  applyServerLimits(app, options.http ?? DEFAULT_HTTP_LIMITS);
  registerJsonBodyParser(app);

  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema));
  for (const schema of [errorSchema, refundSchema, chargeSchema, merchantSchema, eventSchema, reviewSchema, attemptSchema]) {
    app.addSchema(schema);
    bodyAjv.addSchema(schema);
    queryAjv.addSchema(schema);
  }

  // Draining: a request in flight when close() began would leave its kept-alive connection open
  // (Fastify keeps idle ones 72 s), and close() would wait for it. Those answers close it instead.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('Request-Id', request.id);
    if (closing) throw new ServiceUnavailable('The server is shutting down. Retry the request: another instance (or this one, restarted) will answer it.');
    if (request.url.length > MAX_URL_LENGTH) throw new UriTooLong(`The request URL is longer than ${MAX_URL_LENGTH} characters.`);
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) throw new MalformedRequest('An HTTP/1.1 request must carry a Host header.');
  });
  registerRequestLog(app);
  // The route template, never the URL: ids in labels would make the series unbounded.
  app.addHook('onResponse', async (request, reply) => {
    countRequestAnswered();
    httpDuration.observe({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('Connection', 'close');
    return payload;
  });

  const refuse = (error: unknown, reply: FastifyReply) => {
    const contractError = toContractError(error);
    const status = contractError.httpStatus;
    if (status === 503) reply.header('Retry-After', '1');
    return { status, body: errorBody(contractError), contractError };
  };
  app.setErrorHandler(async (error, request, reply) => {
    const { status, body, contractError } = refuse(error, reply);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else noteRefusal(request, contractError.code, contractError.param);
    if (status >= 400 && status < 500 && contractError.type !== 'idempotency_error' && contractError.type !== 'authentication_error' && contractError.type !== 'rate_limit_error') {
      try {
        const remembered = await rememberRefusal(ctx.pool, request, { status, body });
        return sendApiResponse(reply, remembered.response, remembered.replayed);
      } catch (e) {
        if (e instanceof ContractError && e.type === 'idempotency_error') {
          const reused = refuse(e, reply);
          return reply.code(reused.status).send(reused.body);
        }
        request.log.warn({ err: e }, 'could not remember refusal');
      }
    }
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler(async (request, reply) => sendError(reply, new ResourceMissing(`Unrecognized request URL (${request.method} ${request.url}).`)));

  const failedAuth = await registerRateLimit(app, options.rateLimits ?? NO_RATE_LIMITS);
  await app.register(fastifySwagger, swaggerOptions(options.version));
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  const keyCache = new ApiKeyCache(options.apiKeyCacheMs);
  registerAuth(app, ctx.pool, options.adminKey, keyCache, failedAuth);
  registerStorableText(app);
  registerIdempotency(app, ctx.pool, { ttlHours: options.idempotencyTtlHours ?? IDEMPOTENCY_TTL_HOURS.default });

  healthRoutes(app, ctx.pool);
  merchantRoutes(app, ctx);
  const failpoints = options.failpoints ?? new Failpoints();
  chargeRoutes(app, ctx, failpoints);
  refundRoutes(app, ctx, failpoints);
  eventRoutes(app, ctx);
  adminRoutes(app, ctx);
  reviewRoutes(app, ctx);
  apiKeyRoutes(app, ctx, keyCache);
  operationRoutes(app, ctx);
  webhookEndpointRoutes(app, ctx);
  await webhookRoutes(app, ctx);
  app.get(
    '/metrics',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operations'],
        operationId: 'getMetrics',
        summary: 'Prometheus metrics (text exposition format); needs the admin key',
        description: 'The series are listed in the README ("Metrics and the operator API"). Labels are bounded sets (route templates, statuses, currencies, job types), never ids.',
        response: { 200: { description: 'Prometheus text exposition format (version 0.0.4).', content: { 'text/plain': { schema: { type: 'string' } } } }, 401: { $ref: 'Error#' }, 429: { $ref: 'Error#' }, 500: { $ref: 'Error#' } },
      },
    },
    async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  dashboardRoutes(app);
  app.get('/openapi.json', { config: { auth: 'none' }, schema: { hide: true } }, async () => app.swagger());

  return app;
}
