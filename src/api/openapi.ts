/**
 * The OpenAPI document's frame (@fastify/swagger options): servers, security schemes, tags, and
 * what every operation carries whatever its route says. The route JSON schemas stay the single
 * source of paths, parameters, bodies and response shapes (they validate and serialize too);
 * this module only adds documentation to the copy @fastify/swagger reads:
 * - security from the route's `config.auth` (merchant key, admin key, or none), so the document
 *   cannot disagree with the auth hook (plugins/auth.ts);
 * - a description for every response code (never "Default Response");
 * - the `Request-Id` header on every response, `Idempotent-Replayed` on the success answer of
 *   every POST that takes an Idempotency-Key.
 * `npm run openapi` writes the document to openapi/openapi.json (scripts/openapi.ts).
 */
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import * as domainErrors from '../domain/errors.ts';
import { ContractError } from '../domain/errors.ts';

type ContractErrorClass = new (message: string) => ContractError;

/**
 * Every error `code` FinCore answers: the codes of the exported ContractError classes of
 * src/domain/errors.ts, read from instances (the list is not restated anywhere).
 */
export const ERROR_CODES: readonly string[] = [
  ...new Set(
    Object.values(domainErrors as Record<string, unknown>)
      .filter((value): value is ContractErrorClass => typeof value === 'function' && (value as { prototype: unknown }).prototype instanceof ContractError)
      .map((ErrorClass) => new ErrorClass('code probe').code),
  ),
].sort();

/** What each status means in FinCore, as the response's description. */
const RESPONSE_DESCRIPTIONS: Record<string, string> = {
  200: 'OK.',
  201: 'Created. A replay of the same request with the same Idempotency-Key answers the same body with `Idempotent-Replayed: true`.',
  202: 'Accepted: the work is queued.',
  400: 'The request is invalid (`invalid_request_error`: parameter_missing, parameter_invalid, parameter_unknown, invalid_json, ...) or its Idempotency-Key was used for a different request (`idempotency_error`, idempotency_key_reused).',
  401: 'No valid API key (`authentication_error`, unauthorized).',
  404: 'No such object, or not this merchant\'s (`resource_missing`).',
  409: 'A request with the same Idempotency-Key is still being processed (`idempotency_key_in_use`): retry later.',
  413: 'The request body is larger than FinCore accepts (`payload_too_large`).',
  429: 'Too many requests (`rate_limited`): wait for Retry-After.',
  500: 'An internal error (`api_error`, internal_error). It has been logged under the Request-Id.',
  503: 'The service is temporarily unavailable (database unreachable, or shutting down): retry after Retry-After.',
};

// Response headers as @fastify/swagger reads them: a JSON schema whose description becomes the header's.
const REQUEST_ID_HEADER = {
  type: 'string',
  description: 'The id of this request (req_...), also in the logs and in the `cause` of the events it caused. Quote it when asking about a request.',
};

const IDEMPOTENT_REPLAYED_HEADER = {
  type: 'string',
  enum: ['true'],
  description: 'Present (`true`) when this answer is the stored one of an earlier request with the same Idempotency-Key: nothing was done again.',
};

type AuthMode = 'merchant' | 'admin' | 'none';

const SECURITY: Record<AuthMode, Array<Record<string, string[]>>> = {
  merchant: [{ merchantKey: [] }],
  admin: [{ adminKey: [] }],
  none: [],
};

interface RouteSchema {
  response?: Record<string, Record<string, unknown>>;
  headers?: { properties?: Record<string, unknown> };
  [key: string]: unknown;
}

/** The documentation copy of one route's schema: its security, response descriptions and headers. */
function documented(schema: RouteSchema | undefined, auth: AuthMode, method: string): RouteSchema | undefined {
  if (!schema) return schema;
  const idempotent = method === 'POST' && schema.headers?.properties?.['idempotency-key'] !== undefined;
  const response = Object.fromEntries(
    Object.entries(schema.response ?? {}).map(([status, entry]) => {
      const success = status.startsWith('2');
      const headers = { 'Request-Id': REQUEST_ID_HEADER, ...(idempotent && success ? { 'Idempotent-Replayed': IDEMPOTENT_REPLAYED_HEADER } : {}) };
      return [status, { ...entry, description: entry.description ?? RESPONSE_DESCRIPTIONS[status] ?? `HTTP ${status}.`, headers }];
    }),
  );
  return { ...schema, security: SECURITY[auth], ...(schema.response ? { response } : {}) };
}

export function swaggerOptions(version: string): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'FinCore API',
        version,
        description:
          'Charges and refunds, asynchronous, idempotent and auditable. The reference: docs/API.md in the repository. Amounts are integers in the currency\'s minor unit (cents for usd). Every POST that creates or changes something takes an `Idempotency-Key` header.',
        license: { name: 'UNLICENSED', identifier: 'UNLICENSED' },
      },
      servers: [
        {
          url: 'http://127.0.0.1:{port}',
          description: 'A FinCore on this machine (`npm start`; PORT, default 3000).',
          variables: { port: { default: '3000', description: 'The PORT FinCore listens on.' } },
        },
      ],
      components: {
        securitySchemes: {
          merchantKey: { type: 'http', scheme: 'bearer', description: "A merchant's API key (sk_...): `Authorization: Bearer <api_key>`. Scopes every /v1 merchant route to that merchant." },
          adminKey: { type: 'http', scheme: 'bearer', description: 'The operator key (FINCORE_ADMIN_KEY, or the one `npm start` prints): `Authorization: Bearer <admin key>`. The admin API, merchant creation and /metrics.' },
        },
      },
      security: SECURITY.merchant,
      tags: [
        { name: 'charges', description: 'Charges: created pending, settled asynchronously by the PSP.' },
        { name: 'refunds', description: 'Refunds of succeeded charges, full or partial.' },
        { name: 'events', description: 'Every change of an object, in order, with its cause.' },
        { name: 'webhooks', description: "Merchants' webhook endpoints and their deliveries; the PSP's signed webhooks." },
        { name: 'admin', description: "The operator's API (admin key): merchants, keys, reviews, jobs, reconciliation, what the dashboard shows." },
        { name: 'operations', description: 'Health, readiness and Prometheus metrics.' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url, route }) => {
      const auth = (route.config as { auth?: AuthMode } | undefined)?.auth ?? 'merchant';
      const method = Array.isArray(route.method) ? (route.method[0] ?? 'GET') : route.method;
      return { schema: documented(schema as RouteSchema, auth, method) as typeof schema, url };
    },
  };
}
