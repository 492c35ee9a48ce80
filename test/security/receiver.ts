/** A merchant's webhook receiver on 127.0.0.1 for the security tests: answers as told, counts what arrives. */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Arrival {
  headers: IncomingHttpHeaders;
  rawBody: string;
  eventId: string;
  at: number;
}

export class Receiver {
  readonly received: Arrival[] = [];
  readonly hanging = new Set<ServerResponse>();
  /** Most requests in flight at once so far. */
  maxInFlight = 0;
  private inFlight = 0;
  answer: 'ok' | 'fail' | 'hang' = 'ok';
  /** Answer after this long (ok/fail). */
  delayMs = 0;
  private readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      this.inFlight += 1;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      res.on('close', () => {
        this.inFlight -= 1;
        this.hanging.delete(res);
      });
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        this.received.push({ headers: req.headers, rawBody, eventId: (JSON.parse(rawBody) as { id: string }).id, at: Date.now() });
        if (this.answer === 'hang') {
          this.hanging.add(res);
          return;
        }
        const status = this.answer === 'fail' ? 500 : 200;
        const send = () => res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'receiver failing');
        if (this.delayMs > 0) setTimeout(send, this.delayMs);
        else send();
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  release(): void {
    for (const res of this.hanging) res.destroy();
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
