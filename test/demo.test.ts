/** `npm run demo` against a running FinCore: it finishes, and what it made is there and consistent. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ADMIN_KEY, call, startTestFinCore, type TestFinCore } from './helpers.ts';

describe('npm run demo', () => {
  let fincore: TestFinCore;
  before(async () => {
    fincore = await startTestFinCore();
  });
  after(() => fincore.stop()); // stop() also runs the audit-trail checks on what the demo made

  it('streams charges and refunds of two merchants, declines and concurrent refunds included, and says where to look', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      env: { ...process.env, FINCORE_URL: fincore.url, FINCORE_ADMIN_KEY: ADMIN_KEY, DEMO_CHARGES: '16' },
      timeout: 120_000,
    });
    assert.match(stdout, /Demo done: 16 charges \(\d+ declined\), \d+ refunds \(\d+ declined by the issuer\), \d+ concurrent refunds refused/);
    assert.match(stdout, new RegExp(`Dashboard: +${fincore.url}/dashboard`));
    // The merchant keys its curl hints need are printed, and they work.
    const keys = [...stdout.matchAll(/^  .+  (mer_\S+)  (sk_\S+)$/gm)].map((m) => m[2]!);
    assert.equal(keys.length, 2, stdout);
    const events = /curl -H 'Authorization: Bearer (sk_\S+)' (\S+\/v1\/events)/.exec(stdout);
    assert.ok(events, stdout);
    assert.ok(keys.includes(events[1]!));
    assert.equal((await fetch(events[2]!, { headers: { authorization: `Bearer ${events[1]}` } })).status, 200);
    assert.match(stdout, new RegExp(`audit verify --url ${fincore.url}`));
    const overview = await call<{ merchants: number; charges: { pending: number; succeeded: number; failed: number }; refunds: { pending: number; succeeded: number; failed: number } }>(fincore.url, 'GET', '/v1/admin/overview', { key: ADMIN_KEY });
    assert.equal(overview.body.merchants, 2);
    assert.equal(overview.body.charges.pending, 0);
    assert.ok(overview.body.charges.failed >= 1, 'declined charges');
    assert.equal(overview.body.charges.succeeded + overview.body.charges.failed, 16);
    assert.ok(overview.body.refunds.succeeded >= 3);
    assert.ok(overview.body.refunds.failed >= 1, 'refunds the issuer declined');
    assert.equal(overview.body.refunds.pending, 0);
  });
});
