/**
 * The API's HTTP server: its limits (a slow client cannot hold a connection for minutes, the
 * number of connections is capped) and the answers given before a request reaches a route,
 * all in the contract's error shape: Node's client errors (408, 431, malformed HTTP), a bad
 * percent-encoding, an over-long path segment.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyHttpOptions, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { httpLimits, type HttpLimits } from '../config.ts';
import { errorBody, toContractError } from './errors.ts';

/** Used when buildApp is given no limits (tests building the app by hand): the config defaults. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = httpLimits({});

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 414: 'URI Too Long', 431: 'Request Header Fields Too Large' };

/**
 * Node's `clientError`: the request never became a request (a header overflow, a timeout
 * while receiving it, bytes that are not HTTP). Answered in the contract's shape, then closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // A response already started on this socket (keep-alive): nothing can be added to it.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const contractError = toContractError(error);
  const status = contractError.httpStatus;
  const body = JSON.stringify(errorBody(contractError));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Bad Request'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  // A client that never reads must not keep the half-closed socket.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** Fastify's errors raised before routing (FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH). */
function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const contractError = toContractError(error);
  request.log.info({ code: contractError.code }, 'request refused before routing');
  void reply.code(contractError.httpStatus).header('Request-Id', request.id).send(errorBody(contractError));
}

/** Fastify options for the limits; `maxConnections` and `headersTimeout` are set on the server by applyServerLimits. */
export function serverOptions(limits: HttpLimits): FastifyHttpOptions<Server> {
  return {
    connectionTimeout: limits.connectionTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      // Node checks the two timeouts on this interval (30 s by default): check often enough
      // that a timeout fires near its value.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      // Node answers a Host-less HTTP/1.1 request with an empty 400 itself; FinCore answers it.
      requireHostHeader: false,
    },
    clientErrorHandler: answerClientError,
    frameworkErrors: answerFrameworkError,
  };
}

export function applyServerLimits(app: FastifyInstance, limits: HttpLimits): void {
  app.server.headersTimeout = limits.headersTimeoutMs;
  // Connections beyond are closed by Node as they arrive (no answer: nothing has been read yet).
  app.server.maxConnections = limits.maxConnections;
}
