/**
 * A PostgreSQL restart mid-load, on a private PostgreSQL cluster this test creates (so the
 * shared server other tests use is never touched). While the server is down the API answers
 * 503 (never another 5xx, never a hang), workers back off, and once it is back everything
 * resumes on its own: every charge settles once, and the invariants hold.
 * Skips where the PostgreSQL server binaries or the postgres user are not available.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkInvariants, type SimState } from './faults/invariants.ts';
import { call, createMerchant, eventually, onServer, startTestFinCore, type ChargeBody, type TestFinCore } from './helpers.ts';

const PORT = 5499;
const binDir = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`).find((d) => existsSync(join(d, 'pg_ctl'))) : undefined;
const hasPostgresUser = spawnSync('id', ['postgres']).status === 0;
const skip = !onServer ? 'runs with the server suite (DATABASE_URL set)' : !binDir || !hasPostgresUser ? 'no PostgreSQL server binaries or postgres user here' : false;

function asPostgres(args: string[]): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('PostgreSQL restart mid-load', { skip }, () => {
  let dir: string;
  let fincore: TestFinCore;
  const pgCtl = (...args: string[]) => asPostgres([join(binDir ?? '', 'pg_ctl'), '-D', join(dir, 'data'), '-w', ...args]);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fincore-pg-'));
    chmodSync(dir, 0o777);
    asPostgres([join(binDir ?? '', 'initdb'), '-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres']);
    pgCtl('-o', `-p ${PORT} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', join(dir, 'log'), 'start');
    fincore = await startTestFinCore(
      { FINCORE_WORKER_POLL_MS: '100', FINCORE_RECONCILE_AFTER_MS: '500', FINCORE_RECONCILE_INTERVAL_MS: '200', FINCORE_JOB_LEASE_MS: '2000' },
      undefined,
      { env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${PORT}/postgres` }, drop: async () => {} },
    );
  });
  after(async () => {
    await fincore?.stop();
    try {
      pgCtl('-m', 'immediate', 'stop');
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 while down, resumes by itself, settles every charge once', async () => {
    const apiKey = (await createMerchant(fincore.url)).apiKey;
    const statuses: number[] = [];
    const created: string[] = [];
    let stop = false;
    const load = (async () => {
      for (let i = 0; !stop && i < 2000; i++) {
        const answer = await call<ChargeBody>(fincore.url, 'POST', '/v1/charges', { key: apiKey, body: { amount: 100 + i, currency: 'usd', payment_method: 'pm_card_visa' } }).catch(() => undefined);
        if (answer) {
          statuses.push(answer.status);
          if (answer.status === 201) created.push(answer.body.id);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await eventually(async () => (created.length >= 10 ? true : undefined), 10_000, 'load to start');
    pgCtl('-m', 'fast', 'stop');
    await new Promise((r) => setTimeout(r, 1500));
    pgCtl('-o', `-p ${PORT} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', join(dir, 'log'), 'start');
    const before = created.length;
    await eventually(async () => (created.length >= before + 10 ? true : undefined), 20_000, 'charges to be accepted again after the restart');
    stop = true;
    await load;

    assert.ok(statuses.includes(503), 'the outage was seen as 503');
    assert.deepEqual([...new Set(statuses)].sort(), [201, 503].filter((s) => statuses.includes(s)), `only 201 and 503 answers: ${[...new Set(statuses)]}`);
    for (const id of created) {
      await eventually(async () => ((await call<ChargeBody>(fincore.url, 'GET', `/v1/charges/${id}`, { key: apiKey })).body.status === 'succeeded' ? true : undefined), 20_000, `charge ${id} to settle`);
    }
    const state = (await (await fetch(`${fincore.simulatorUrl}/sim/state`)).json()) as SimState;
    assert.deepEqual(await checkInvariants(fincore.db.pool, state), []);
  });
});
