/**
 * src/logging.ts: which log format a process writes, and what each looks like.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { chooseLogFormat, createLogger } from '../../src/logging.ts';

function memory(): { stream: Writable; text(): string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

describe('log format', () => {
  it('auto: pretty on a terminal outside production, JSON otherwise', () => {
    assert.equal(chooseLogFormat({ setting: 'auto', stdoutIsTTY: true, nodeEnv: undefined }), 'pretty');
    assert.equal(chooseLogFormat({ setting: 'auto', stdoutIsTTY: true, nodeEnv: 'development' }), 'pretty');
    assert.equal(chooseLogFormat({ setting: 'auto', stdoutIsTTY: true, nodeEnv: 'production' }), 'json');
    assert.equal(chooseLogFormat({ setting: 'auto', stdoutIsTTY: false, nodeEnv: undefined }), 'json');
    assert.equal(chooseLogFormat({ setting: 'auto', stdoutIsTTY: false, nodeEnv: 'production' }), 'json');
  });

  it('an explicit FINCORE_LOG_FORMAT wins over the terminal and NODE_ENV', () => {
    assert.equal(chooseLogFormat({ setting: 'json', stdoutIsTTY: true, nodeEnv: undefined }), 'json');
    assert.equal(chooseLogFormat({ setting: 'pretty', stdoutIsTTY: false, nodeEnv: 'production' }), 'pretty');
  });

  it('json: one parseable object per line with the fields', () => {
    const out = memory();
    createLogger({ level: 'info', format: 'json', destination: out.stream }).info({ method: 'GET', status: 200, reqId: 'req_1' }, 'GET / 200 1 ms');
    const lines = out.text().trim().split('\n');
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line.msg, 'GET / 200 1 ms');
    assert.equal(line.status, 200);
    assert.equal(line.reqId, 'req_1');
  });

  it('pretty: one readable line, component and request id in the message, request fields hidden', async () => {
    const out = memory();
    const logger = createLogger({ level: 'info', format: 'pretty', colorize: false, destination: out.stream });
    logger.child({ component: 'api' }).info({ reqId: 'req_1', method: 'GET', url: '/healthz', status: 200, duration_ms: 1.5 }, 'GET /healthz 200 1.5 ms');
    await new Promise((resolve) => setImmediate(resolve));
    const lines = out.text().trim().split('\n');
    assert.equal(lines.length, 1, out.text());
    assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[api\] GET \/healthz 200 1\.5 ms \(req_1\)$/);
  });
});
