/**
 * Issue 14, SSRF: a merchant's webhook URL never reaches loopback, private, link-local or reserved
 * addresses, in any IPv4 or IPv6 spelling, at registration and at delivery (where the resolved
 * address is checked and the connection made to that same address). `enabled_events` takes known
 * event types only.
 */
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { createServer, type Server } from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { EVENT_TYPES } from '../../src/domain/events.ts';
import { checkUrlTarget, classifyAddress } from '../../src/domain/webhook-address.ts';
import { postWebhook } from '../../src/webhooks/deliver.ts';
import { call, createMerchant, eventually, startTestFinCore, type ErrorBody, type TestFinCore } from '../helpers.ts';

/** Every form the issue names, and their relatives: none may be reached. */
const REFUSED_ADDRESSES = [
  '127.0.0.1', '127.1.2.3', '0.0.0.0', '10.0.0.1', '172.16.5.4', '192.168.0.1', '100.64.0.1', '169.254.169.254',
  '224.0.0.1', '255.255.255.255', '240.0.0.1', '192.0.0.8', '192.0.2.10', '198.51.100.7', '203.0.113.9', '198.18.0.1',
  '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '100::', '100::1', '2001:db8::1', '3fff::1', '2001::1',
  '::ffff:127.0.0.1', '::ffff:7f00:1', '::127.0.0.1', '::7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254',
  '2002:7f00:1::', '2002:a9fe:a9fe::1', '2002:c0a8:1::', '64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '64:ff9b:1::1',
];
const ALLOWED_ADDRESSES = ['8.8.8.8', '93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001::1', '::ffff:8.8.8.8', '2002:808:808::1', '64:ff9b::808:808'];

const REFUSED_URLS = [
  'http://localhost/hooks', 'http://localhost./hooks', 'https://LOCALHOST:8443/x', 'http://api.localhost/x', 'http://api.localhost./x',
  'http://127.0.0.1/x', 'http://127.0.0.1./x', 'http://0x7f.1/x', 'http://2130706433/x', 'http://0177.0.0.1/x', 'http://0/x',
  'http://[::1]/x', 'http://[::ffff:7f00:1]/x', 'http://[::ffff:127.0.0.1]/x', 'http://[::127.0.0.1]/x', 'http://[2002:7f00:1::]/x',
  'http://[64:ff9b::7f00:1]/x', 'http://[100::]/x', 'http://[100::1]/x', 'http://[fe80::1]/x', 'http://[fd00::1]/x', 'http://[2001:db8::1]/x',
  'http://169.254.169.254/latest/meta-data/', 'http://[::ffff:a9fe:a9fe]/latest/meta-data/', 'http://192.0.2.1/x', 'http://198.51.100.1/x',
  'http://203.0.113.1/x', 'http://10.0.0.1/x', 'http://shop.example:0/x',
];

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet);
const hex = (a: number, b: number) => ((a << 8) | b).toString(16);

describe('address rules (pure)', () => {
  it('refuses every loopback/private/link-local/reserved form, IPv4-mapped, IPv4-compatible, 6to4 and NAT64 included', () => {
    for (const address of REFUSED_ADDRESSES) assert.equal(classifyAddress(address).allowed, false, address);
    for (const address of ALLOWED_ADDRESSES) assert.equal(classifyAddress(address).allowed, true, address);
    assert.equal(classifyAddress('not-an-ip').allowed, false);
  });

  it('property: every IPv6 form embedding an IPv4 address gets that IPv4 address\'s verdict', () => {
    fc.assert(
      fc.property(ipv4, ([a, b, c, d]) => {
        const v4 = classifyAddress(`${a}.${b}.${c}.${d}`).allowed;
        for (const form of [`::ffff:${a}.${b}.${c}.${d}`, `::ffff:${hex(a, b)}:${hex(c, d)}`, `2002:${hex(a, b)}:${hex(c, d)}::1`, `64:ff9b::${hex(a, b)}:${hex(c, d)}`]) {
          assert.equal(classifyAddress(form).allowed, v4, form);
        }
        // IPv4-compatible ::a.b.c.d, except :: and ::1 (unspecified and loopback themselves).
        if (a !== 0 || b !== 0 || c !== 0 || d > 1) assert.equal(classifyAddress(`::${hex(a, b)}:${hex(c, d)}`).allowed, v4);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: nothing in 127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, 100.64/10 is allowed, in any spelling', () => {
    const privateV4 = fc.oneof(
      fc.tuple(fc.constant(127), octet, octet, octet),
      fc.tuple(fc.constant(10), octet, octet, octet),
      fc.tuple(fc.integer({ min: 16, max: 31 }).map((x) => [172, x] as const), octet, octet).map(([[a, b], c, d]) => [a, b, c, d] as const),
      fc.tuple(fc.constant(192), fc.constant(168), octet, octet),
      fc.tuple(fc.constant(169), fc.constant(254), octet, octet),
      fc.tuple(fc.constant(100), fc.integer({ min: 64, max: 127 }), octet, octet),
    );
    fc.assert(
      fc.property(privateV4, ([a, b, c, d]) => {
        for (const form of [`${a}.${b}.${c}.${d}`, `::ffff:${hex(a, b)}:${hex(c, d)}`, `::${hex(a, b)}:${hex(c, d)}`, `2002:${hex(a, b)}:${hex(c, d)}::`, `64:ff9b::${hex(a, b)}:${hex(c, d)}`]) {
          assert.equal(classifyAddress(form).allowed, false, form);
          assert.equal(checkUrlTarget(new URL(`http://[${form.includes(':') ? form : `::ffff:${form}`}]/x`)).allowed, false, form);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('URL targets: localhost names (trailing dot too), IP literals in every spelling and port 0 are refused', () => {
    for (const url of REFUSED_URLS) assert.equal(checkUrlTarget(new URL(url)).allowed, false, url);
    for (const url of ['https://shop.example/hooks', 'https://8.8.8.8/x', 'https://[2606:4700::1111]:8443/x', 'http://localhost.shop.example/x']) {
      assert.equal(checkUrlTarget(new URL(url)).allowed, true, url);
    }
  });
});

describe('registration refuses private URLs and unknown event types (real FinCore, private networks not allowed)', () => {
  let fincore: TestFinCore;
  let apiKey: string;
  before(async () => {
    fincore = await startTestFinCore({ FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false', FINCORE_AUDIT_POLL_MS: '600000' });
    ({ apiKey } = await createMerchant(fincore.url, 'SSRF Shop'));
  });
  after(async () => {
    await fincore.stop();
  });

  it('every private/loopback/reserved URL form is a 400 parameter_invalid on url naming FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS', async () => {
    for (const url of REFUSED_URLS) {
      const refused = await call<ErrorBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url, enabled_events: ['*'] } });
      assert.equal(refused.status, 400, `${url}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error.type, 'invalid_request_error');
      assert.equal(refused.body.error.code, 'parameter_invalid', url);
      assert.equal(refused.body.error.param, 'url', url);
      if (!url.includes(':0/')) assert.match(refused.body.error.message, /FINCORE_WEBHOOK_ALLOW_PRIVATE_NETWORKS/, url);
    }
    const listed = await call<{ data: unknown[] }>(fincore.url, 'GET', '/v1/webhook_endpoints', { key: apiKey });
    assert.equal(listed.body.data.length, 0, 'nothing was registered');
    const ok = await call(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: 'https://shop.example/hooks', enabled_events: ['*'] } });
    assert.equal(ok.status, 201);
  });

  it('enabled_events accepts known event types and "*" only', async () => {
    for (const enabled of [['charge.refunded'], ['refund.succeeded', 'refund.succeded'], ['payment_intent.succeeded'], ['merchant.deleted']]) {
      const refused = await call<ErrorBody>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: 'https://shop.example/h', enabled_events: enabled } });
      assert.equal(refused.status, 400, JSON.stringify(enabled));
      assert.equal(refused.body.error.code, 'parameter_invalid');
      assert.equal(refused.body.error.param, 'enabled_events');
      assert.match(refused.body.error.message, /unknown event type/);
    }
    const all = await call<{ enabled_events: string[] }>(fincore.url, 'POST', '/v1/webhook_endpoints', { key: apiKey, body: { url: 'https://shop.example/all', enabled_events: [...EVENT_TYPES] } });
    assert.equal(all.status, 201, JSON.stringify(all.body));
    assert.deepEqual(all.body.enabled_events, [...EVENT_TYPES]);
  });
});

describe('delivery re-checks the address it connects to', () => {
  let server: Server;
  let port = 0;
  let received = 0;
  const realLookup = dns.lookup;
  before(async () => {
    server = createServer((req, res) => {
      received += 1;
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    dns.lookup = realLookup;
    syncBuiltinESMExports();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const strict = { timeoutMs: 1000, allowPrivateNetworks: false };

  it('an IP literal in any refused spelling is never connected to', async () => {
    for (const host of ['127.0.0.1', '[::ffff:7f00:1]', '[::127.0.0.1]', '[2002:7f00:1::]', '[64:ff9b::7f00:1]', 'localhost.']) {
      const result = await postWebhook(`http://${host}:${port}/x`, '{}', {}, strict);
      assert.equal(result.delivered, false, host);
      assert.match(result.error ?? '', /private|loopback/, `${host}: ${result.error}`);
    }
    assert.equal(received, 0);
  });

  it('a name resolving to any refused form (DNS rebinding to mapped, compatible, 6to4, NAT64, discard) is refused from that one resolution', async () => {
    const answers = ['::ffff:127.0.0.1', '::127.0.0.1', '2002:7f00:1::', '64:ff9b::7f00:1', '100::1', '192.0.2.1', '10.0.0.1'];
    let lookups = 0;
    let next = '';
    // A resolver under the attacker's control: its answer is whatever the test says next.
    const fake = ((hostname: string, options: unknown, callback: (...args: unknown[]) => void) => {
      lookups += 1;
      const family = next.includes(':') ? 6 : 4;
      const cb = typeof options === 'function' ? (options as typeof callback) : callback;
      const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
      if (all) cb(null, [{ address: next, family }]);
      else cb(null, next, family);
    }) as unknown as typeof dns.lookup;
    dns.lookup = fake;
    syncBuiltinESMExports();
    try {
      for (const answer of answers) {
        next = answer;
        const before = lookups;
        const result = await postWebhook(`http://rebind.attacker.example:${port}/x`, '{}', {}, strict);
        assert.equal(result.delivered, false, answer);
        assert.match(result.error ?? '', /private or reserved address/, `${answer}: ${result.error}`);
        assert.equal(lookups - before, 1, 'checked and connected from one resolution');
      }
      // Allowed: the same fake resolver answering 127.0.0.1 reaches the receiver, so the
      // refusals above came from the check, not from a broken resolver.
      next = '127.0.0.1';
      const allowed = await postWebhook(`http://rebind.attacker.example:${port}/x`, '{}', {}, { ...strict, allowPrivateNetworks: true });
      assert.equal(allowed.delivered, true, allowed.error ?? '');
    } finally {
      dns.lookup = realLookup;
      syncBuiltinESMExports();
    }
    await eventually(async () => (received === 1 ? true : undefined), 2000, 'the one allowed delivery');
  });
});
