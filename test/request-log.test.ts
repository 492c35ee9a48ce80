/**
 * One log line per answered request, with method, URL, status, duration and request id (not
 * Fastify's "incoming request" + "request completed" pair).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../src/logging.ts';
import { startFinCore, type RunningFinCore } from '../src/main.ts';
import { ADMIN_KEY, call, freshDatabase, testConfig, type TestDatabase } from './helpers.ts';

describe('request log', () => {
  let database: TestDatabase;
  let fincore: RunningFinCore;
  let text = '';
  before(async () => {
    database = await freshDatabase();
    const stream = new Writable({
      write(chunk, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    const config = testConfig({ ...database.env, LOG_LEVEL: 'info' });
    fincore = await startFinCore(config, { api: true, worker: false, simulator: false }, createLogger({ level: 'info', format: 'json', destination: stream }));
  });
  after(async () => {
    await fincore.close();
    await database.drop();
  });

  it('one line per request with method, url, status, duration and request id', async () => {
    const answer = await call(fincore.apiUrl!, 'GET', '/v1/admin/merchants?limit=5', { key: ADMIN_KEY });
    assert.equal(answer.status, 200);
    const requestId = answer.headers.get('request-id');
    const lines = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.reqId === requestId);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    const line = lines[0]!;
    assert.equal(line.method, 'GET');
    assert.equal(line.url, '/v1/admin/merchants?limit=5');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.equal(line.msg, `GET /v1/admin/merchants?limit=5 200 ${line.duration_ms} ms`);
    assert.equal(text.includes('incoming request'), false);
    assert.equal(text.includes('request completed'), false);
  });

  it('a refused request is one line too, carrying the error code and param', async () => {
    const answer = await call(fincore.apiUrl!, 'POST', '/v1/merchants', { key: ADMIN_KEY, body: { name: 'x', extra: 1 } });
    assert.equal(answer.status, 400);
    const requestId = answer.headers.get('request-id');
    const lines = text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.reqId === requestId);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.status, 400);
    assert.equal(lines[0]!.code, 'parameter_unknown');
    assert.equal(text.includes('request refused'), false);
  });
});
