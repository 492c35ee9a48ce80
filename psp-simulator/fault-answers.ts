/**
 * How the API-call faults reach the wire: a latency wait before answering, an answer held past the
 * caller's timeout, or a socket cut before any answer. Held answers and waits end on close.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultInjector } from './faults.ts';

export type AnswerFault = 'timeout' | 'lost_response' | null;

export interface FaultAnswers {
  /** Resolves after `ms`; once closed it never resolves (close() cuts the socket). */
  delay(ms: number): Promise<void>;
  /** Answers now, holds the answer (timeout fault) or cuts the socket (lost_response fault). */
  answer(req: IncomingMessage, res: ServerResponse, fault: AnswerFault, write: () => void): void;
  close(): void;
}

export function createFaultAnswers(faults: FaultInjector): FaultAnswers {
  const timers = new Set<NodeJS.Timeout>();
  const heldResponses = new Set<ServerResponse>();
  let closed = false;
  return {
    delay(ms) {
      return new Promise((resolve) => {
        if (closed) return;
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, ms);
        timers.add(timer);
      });
    },
    answer(req, res, fault, write) {
      if (fault === 'lost_response') {
        faults.count('lost_response');
        req.socket.destroy();
        return;
      }
      if (fault === 'timeout') {
        faults.count('timeout');
        heldResponses.add(res);
        const timer = setTimeout(() => {
          timers.delete(timer);
          heldResponses.delete(res);
          write();
        }, faults.settings.timeout_hold_ms);
        timers.add(timer);
        res.on('close', () => {
          clearTimeout(timer);
          timers.delete(timer);
          heldResponses.delete(res);
        });
        return;
      }
      write();
    },
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const res of heldResponses) res.socket?.destroy();
      heldResponses.clear();
    },
  };
}
