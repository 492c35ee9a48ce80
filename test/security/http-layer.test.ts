/**
 * The HTTP layer over real sockets: slow clients are cut off by the configured timeouts, the
 * connection cap holds, and every answer given before a route runs (408, 414, 431, a bad URL,
 * bytes that are not HTTP, a Host-less request, a request arriving while the server closes) is
 * in the contract's error shape.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { ADMIN_KEY, freshDatabase, startTestFinCore, type ErrorBody, type TestFinCore } from '../helpers.ts';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection. */
  closed: boolean;
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads what the server sends until it closes the connection or `waitMs` passes. */
function readAll(socket: Socket, waitMs: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

function parse(text: string): Omit<RawAnswer, 'closed' | 'elapsedMs'> {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

/** Sends `parts` with `gapMs` between them, then reads the answer. */
async function raw(port: number, parts: string[], options: { gapMs?: number; waitMs?: number } = {}): Promise<RawAnswer> {
  const socket = await open(port);
  const started = Date.now();
  const reading = readAll(socket, options.waitMs ?? 5000);
  for (const [i, part] of parts.entries()) {
    if (i > 0 && options.gapMs) await sleep(options.gapMs);
    if (socket.destroyed || !socket.writable) break;
    socket.write(part);
  }
  const { text, closed } = await reading;
  socket.destroy();
  return { ...parse(text), closed, elapsedMs: Date.now() - started };
}

function assertContractError(answer: RawAnswer, status: number, code: string): ErrorBody['error'] {
  const context = JSON.stringify(answer);
  assert.equal(answer.status, status, context);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/, context);
  const body = JSON.parse(answer.body) as ErrorBody;
  assert.deepEqual(Object.keys(body), ['error'], context);
  assert.equal(body.error.type, 'invalid_request_error', context);
  assert.equal(body.error.code, code, context);
  assert.ok(body.error.message.length > 0, context);
  return body.error;
}

describe('HTTP layer', () => {
  let fincore: TestFinCore;
  let port: number;

  before(async () => {
    fincore = await startTestFinCore(
      { FINCORE_HTTP_HEADERS_TIMEOUT_MS: '600', FINCORE_HTTP_REQUEST_TIMEOUT_MS: '1200', FINCORE_HTTP_KEEP_ALIVE_TIMEOUT_MS: '400', FINCORE_HTTP_MAX_REQUESTS_PER_SOCKET: '2' },
      { api: true, worker: false, simulator: false },
    );
    port = portOf(fincore.url);
  });
  after(() => fincore.stop());

  it('a body sent slowly is cut off after the request timeout with a 408 request_timeout, and the connection closed (it was held for minutes)', async () => {
    const head = `POST /v1/merchants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`;
    // One byte every 100 ms: always active, never finished.
    const answer = await raw(port, [head, ...Array.from({ length: 60 }, () => ' ')], { gapMs: 100, waitMs: 8000 });
    assertContractError(answer, 408, 'request_timeout');
    assert.equal(answer.closed, true);
    assert.ok(answer.elapsedMs < 4000, `cut off after ${answer.elapsedMs} ms`);
  });

  it('headers sent slowly (slowloris) are cut off after the headers timeout: 408, closed', async () => {
    const answer = await raw(port, ['GET /healthz HTTP/1.1\r\nHost: x\r\n', ...Array.from({ length: 60 }, (_, i) => `X-Slow-${i}: y\r\n`)], { gapMs: 100, waitMs: 8000 });
    assertContractError(answer, 408, 'request_timeout');
    assert.equal(answer.closed, true);
    assert.ok(answer.elapsedMs < 3000, `cut off after ${answer.elapsedMs} ms`);
  });

  it('headers larger than 16 KB: 431 headers_too_large in the contract shape, closed', async () => {
    const answer = await raw(port, [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]);
    assertContractError(answer, 431, 'headers_too_large');
    assert.equal(answer.closed, true);
  });

  it('a URL longer than 8192 characters: 414 uri_too_long; a path segment longer than 100: 414 too', async () => {
    const long = await raw(port, [`GET /v1/charges?starting_after=${'x'.repeat(9000)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nConnection: close\r\n\r\n`]);
    assertContractError(long, 414, 'uri_too_long');
    const segment = await raw(port, [`GET /v1/charges/${'c'.repeat(150)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
    const error = assertContractError(segment, 414, 'uri_too_long');
    assert.match(error.message, /100 characters/);
    assert.ok(segment.headers['request-id']?.startsWith('req_'));
  });

  it('a bad percent-encoding in the URL (/%): 400 malformed_request in the contract shape', async () => {
    for (const path of ['/%', '/v1/charges/%zz', '/v1/charges/%E0%A4%A']) {
      const answer = await raw(port, [`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
      const error = assertContractError(answer, 400, 'malformed_request');
      assert.match(error.message, /percent-encoding/);
    }
  });

  it('bytes that are not HTTP: 400 malformed_request in the contract shape, then closed', async () => {
    for (const garbage of ['HELLO THERE\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n', '\u0000\u0001\u0002\r\n\r\n']) {
      const answer = await raw(port, [garbage]);
      assertContractError(answer, 400, 'malformed_request');
      assert.equal(answer.closed, true, JSON.stringify(garbage));
    }
  });

  it('an HTTP/1.1 request without a Host header: 400 malformed_request (Node answered an empty 400)', async () => {
    const answer = await raw(port, ['GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n']);
    const error = assertContractError(answer, 400, 'malformed_request');
    assert.match(error.message, /Host/);
  });

  it('an idle kept-alive connection is closed after the keep-alive timeout', async () => {
    const socket = await open(port);
    const reading = readAll(socket, 5000);
    const started = Date.now();
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const { text, closed } = await reading;
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.equal(closed, true);
    assert.ok(Date.now() - started < 3000, `closed after ${Date.now() - started} ms`);
  });

  it('a connection answers at most FINCORE_HTTP_MAX_REQUESTS_PER_SOCKET requests, the last one with Connection: close', async () => {
    const socket = await open(port);
    const reading = readAll(socket, 5000);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(100);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const { text, closed } = await reading;
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2, text);
    assert.match(answers[0] ?? '', /^HTTP\/1\.1 200[\s\S]*Connection: keep-alive/i);
    assert.match(answers[1] ?? '', /^HTTP\/1\.1 200[\s\S]*Connection: close/i);
    assert.equal(closed, true);
  });
});

describe('HTTP layer: connection cap and closing', () => {
  it('connections beyond FINCORE_HTTP_MAX_CONNECTIONS are closed at once; room frees when one closes', async () => {
    const fincore = await startTestFinCore({ FINCORE_HTTP_MAX_CONNECTIONS: '2' }, { api: true, worker: false, simulator: false });
    try {
      const port = portOf(fincore.url);
      const held = [await open(port), await open(port)];
      for (const socket of held) socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // unfinished: kept open
      await sleep(100);
      const third = await raw(port, ['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], { waitMs: 2000 });
      assert.equal(third.closed, true);
      assert.equal(third.body, '');
      assert.ok(Number.isNaN(third.status), `no answer expected, got ${third.status}`);
      held[0]?.destroy();
      await sleep(200);
      const fourth = await raw(port, ['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
      assert.equal(fourth.status, 200);
      for (const socket of held) socket.destroy();
    } finally {
      await fincore.stop();
    }
  });

  it('a request arriving while the server closes: 503 in the contract shape with Retry-After and Connection: close (Fastify answered its own body)', async () => {
    const database = await freshDatabase();
    const fincore = await startTestFinCore({}, { api: true, worker: false, simulator: false }, database);
    const port = portOf(fincore.url);
    // A request begun (not yet complete) before close(): the connection is not idle, so it stays open.
    const socket = await open(port);
    const reading = readAll(socket, 8000);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await sleep(100);
    const closing = fincore.close();
    try {
      // close() has begun once the server stops accepting connections.
      for (let i = 0; i < 100; i++) {
        const refused = await open(port).then(
          (s) => (s.destroy(), false),
          () => true,
        );
        if (refused) break;
        await sleep(20);
      }
      socket.write('\r\n');
      const { text } = await reading;
      const answer = { ...parse(text), closed: true, elapsedMs: 0 };
      assert.equal(answer.status, 503, text);
      const body = JSON.parse(answer.body) as ErrorBody;
      assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'type']);
      assert.equal(body.error.type, 'api_error');
      assert.match(body.error.message, /shutting down/);
      assert.equal(answer.headers['retry-after'], '1');
      assert.equal(answer.headers.connection, 'close');
    } finally {
      socket.destroy();
      await closing;
      await database.drop();
    }
  });
});

describe('HTTP limits configuration', () => {
  it('defaults, overrides, and a headers timeout longer than the request timeout refused', () => {
    const defaults = loadConfig({}).http;
    assert.deepEqual(defaults, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, connectionTimeoutMs: 120_000, keepAliveTimeoutMs: 72_000, maxRequestsPerSocket: 0, maxConnections: 2048 });
    assert.equal(loadConfig({ FINCORE_HTTP_MAX_CONNECTIONS: '10' }).http.maxConnections, 10);
    assert.throws(() => loadConfig({ FINCORE_HTTP_HEADERS_TIMEOUT_MS: '40000', FINCORE_HTTP_REQUEST_TIMEOUT_MS: '30000' }), ConfigError);
    assert.throws(() => loadConfig({ FINCORE_HTTP_MAX_CONNECTIONS: '0' }), ConfigError);
  });
});
