import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Cause } from '../../flows/cause.ts';
import { StoredResponseFound, type ApiResponse } from '../../flows/idempotency.ts';
import type { Failpoint, Failpoints } from '../failpoints.ts';
import { sendApiResponse } from '../plugins/idempotency.ts';

/**
 * Runs a money-moving flow and answers with its response, or with the stored one it found.
 * `afterCommit` names the failpoint between the flow's commit and the response leaving.
 */
export async function answer(reply: FastifyReply, flow: () => Promise<ApiResponse>, afterCommit?: { failpoints: Failpoints; name: Failpoint }): Promise<FastifyReply> {
  try {
    const response = await flow();
    afterCommit?.failpoints.hit(afterCommit.name);
    return sendApiResponse(reply, response);
  } catch (error) {
    if (error instanceof StoredResponseFound) return sendApiResponse(reply, error.response, true);
    throw error;
  }
}

export function requestCause(request: FastifyRequest): Cause {
  return { type: 'api_request', id: request.id, idempotencyKey: request.idempotency?.key ?? null };
}
