import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Cause } from '../../db/events.ts';
import { StoredResponseFound, type ApiResponse } from '../../flows/idempotency.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';

/** Runs a money-moving flow and answers with its response, or with the stored one it found. */
export async function answer(reply: FastifyReply, flow: () => Promise<ApiResponse>): Promise<FastifyReply> {
  try {
    return sendApiResponse(reply, await flow());
  } catch (error) {
    if (error instanceof StoredResponseFound) return sendApiResponse(reply, error.response, true);
    throw error;
  }
}

export function requestCause(request: FastifyRequest): Cause {
  return { type: 'api_request', id: request.id };
}
