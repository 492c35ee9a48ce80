/**
 * The `fincore` CLI as a user runs it: `start` in a child process prints its URLs and admin key,
 * a charge and a refund settle, SIGTERM shuts down cleanly and releases the data dir, and the
 * jobs commands answer.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, eventually, freshDatabase, type ChargeBody, type RefundBody, type TestDatabase } from './helpers.ts';

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, encoding: 'utf8' });
}

/** The CLI without blocking the event loop (a FinCore this test started must keep answering). */
function cliAsync(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

interface RunningCli {
  output(): string;
  stop(): Promise<number | null>;
}

/** `fincore start` in a child process; resolves once it printed its API URL. */
async function startCli(env: Record<string, string>): Promise<RunningCli & { api: string; adminKey: string | undefined }> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
    env: { ...process.env, PORT: '0', FINCORE_SIM_PORT: '0', FINCORE_ADMIN_KEY: '', LOG_LEVEL: 'warn', ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = () => {
    child.kill('SIGTERM');
    return exited;
  };
  try {
    const api = await eventually(async () => /API:\s+(http:\/\/\S+)/.exec(output)?.[1], 30_000, 'the API URL to be printed');
    await eventually(async () => (output.includes('Press Ctrl-C') ? true : undefined), 5000, 'the banner to be printed');
    const adminKey = /Admin key:\s+(\S+)/.exec(output)?.[1];
    return { api, adminKey, output: () => output, stop };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output}`);
  }
}

describe('fincore CLI', () => {
  let database: TestDatabase;
  before(async () => {
    database = await freshDatabase();
  });
  after(() => database.drop());

  it('start: serves, settles a charge and a refund, and stops cleanly on SIGTERM', async () => {
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
      env: { ...process.env, ...database.env, PORT: '0', FINCORE_SIM_PORT: '0', FINCORE_ADMIN_KEY: '', LOG_LEVEL: 'warn' },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const api = await eventually(async () => /API:\s+(http:\/\/\S+)/.exec(output)?.[1], 30_000, 'the API URL to be printed');
      const adminKey = await eventually(async () => /Admin key:\s+(\S+)/.exec(output)?.[1], 5000, 'the admin key to be printed');
      assert.match(output, /API docs:\s+http:\/\/\S+\/docs/);
      assert.match(output, /Dashboard:\s+http:\/\/\S+\/dashboard/);

      const merchant = await call<{ api_key: string }>(api, 'POST', '/v1/merchants', { key: adminKey, body: { name: 'CLI shop' } });
      assert.equal(merchant.status, 201);
      const key = merchant.body.api_key;
      const charge = await call<ChargeBody>(api, 'POST', '/v1/charges', { key, body: { amount: 2500, currency: 'jpy', payment_method: 'pm_card_visa' } });
      const settled = await eventually(async () => {
        const c = await call<ChargeBody>(api, 'GET', `/v1/charges/${charge.body.id}`, { key });
        return c.body.status === 'succeeded' ? c.body : undefined;
      }, 5000, 'charge to settle');
      assert.equal(settled.currency, 'jpy');
      const refund = await call<RefundBody>(api, 'POST', '/v1/refunds', { key, body: { charge_id: charge.body.id } });
      assert.equal(refund.status, 201);
      await eventually(async () => ((await call<RefundBody>(api, 'GET', `/v1/refunds/${refund.body.id}`, { key })).body.status === 'succeeded' ? true : undefined), 5000, 'refund to settle');

      // The database commands work while it runs: on embedded PGlite the data dir is locked, so
      // they ask the running FinCore (found at HOST:PORT) through its admin API with the stored key.
      const port = new URL(api).port;
      // On a server the CLI opens the database itself and asks the PSP directly (reconciliation
      // re-reads settled objects there): point it at the simulator this FinCore started.
      const simulatorUrl = /PSP simulator:\s+(http:\/\/\S+)/.exec(output)?.[1];
      assert.ok(simulatorUrl, `start prints its simulator's address: ${output}`);
      const running = { ...database.env, PORT: port, FINCORE_ADMIN_KEY: '', FINCORE_SIM_URL: simulatorUrl };
      const dead = await cliAsync(['jobs', 'dead'], running);
      assert.equal(dead.status, 0, dead.stderr);
      assert.match(dead.stdout, /no dead-lettered jobs/);
      if (!process.env.DATABASE_URL) assert.match(dead.stderr, /asking it through its admin API/, `start's output so far: ${output}`);
      const retry = await cliAsync(['jobs', 'retry', 'job_DOESNOTEXIST'], running);
      assert.equal(retry.status, 1, retry.stderr);
      assert.match(retry.stderr, /no job job_DOESNOTEXIST/);
      const reconcile = await cliAsync(['reconcile', '--all'], running);
      assert.equal(reconcile.status, 0, reconcile.stderr);
      assert.match(reconcile.stdout, /checked=\d+ settled=\d+ resubmitted=\d+ psp_errors=0/);
      if (!process.env.DATABASE_URL) assert.match(reconcile.stderr, /asking it through its admin API/, `start's output so far: ${output}`);
      const verify = await cliAsync(['audit', 'verify'], running);
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /audit trail OK/);
      if (!process.env.DATABASE_URL) assert.match(verify.stderr, /data directory in use by a running FinCore: asking it through its admin API/, `start's output so far: ${output}; exit code: ${child.exitCode}`);
      // --url names the FinCore explicitly (both modes); a wrong key is refused with one clear line.
      const viaUrl = await cliAsync(['audit', 'verify', '--url', api], { ...database.env, FINCORE_ADMIN_KEY: adminKey });
      assert.equal(viaUrl.status, 0, viaUrl.stderr);
      assert.match(viaUrl.stdout, /audit trail OK/);
      const wrongKey = await cliAsync(['jobs', 'dead', '--url', api], { ...database.env, FINCORE_ADMIN_KEY: 'adm_wrong' });
      assert.equal(wrongKey.status, 1);
      assert.match(wrongKey.stderr, /refused the admin key \(401\)/);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
    if (database.env.FINCORE_DATA_DIR) assert.equal(existsSync(join(database.env.FINCORE_DATA_DIR, 'fincore.lock')), false, 'the data dir lock is released');
  });

  it('embedded: a restart on the same data dir keeps the generated admin key (stored 0600)', { skip: Boolean(process.env.DATABASE_URL) }, async () => {
    const own = await freshDatabase();
    try {
      const first = await startCli(own.env);
      assert.ok(first.adminKey, first.output());
      const merchant = await call<{ api_key: string }>(first.api, 'POST', '/v1/merchants', { key: first.adminKey, body: { name: 'Before restart' } });
      assert.equal(merchant.status, 201);
      assert.equal(await first.stop(), 0, first.output());
      const keyFile = join(own.env.FINCORE_DATA_DIR!, 'admin.key');
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);

      const second = await startCli(own.env);
      try {
        assert.equal(second.adminKey, first.adminKey, 'the same key is printed again');
        const list = await call<{ data: Array<{ name: string }> }>(second.api, 'GET', '/v1/admin/merchants', { key: first.adminKey });
        assert.equal(list.status, 200);
        assert.ok(list.body.data.some((m) => m.name === 'Before restart'));
      } finally {
        assert.equal(await second.stop(), 0, second.output());
      }

      // FINCORE_ADMIN_KEY still wins over the stored key.
      const third = await startCli({ ...own.env, FINCORE_ADMIN_KEY: 'adm_from_environment_0123456789' });
      try {
        assert.equal((await call(third.api, 'GET', '/v1/admin/merchants', { key: 'adm_from_environment_0123456789' })).status, 200);
        assert.equal((await call(third.api, 'GET', '/v1/admin/merchants', { key: first.adminKey })).status, 401);
      } finally {
        await third.stop();
      }
    } finally {
      await own.drop();
    }
  });

  it('jobs dead / jobs retry answer on the same database', () => {
    const dead = cli(['jobs', 'dead'], database.env);
    assert.equal(dead.status, 0, dead.stderr);
    assert.match(dead.stdout, /no dead-lettered jobs/);
    const retry = cli(['jobs', 'retry', 'job_DOESNOTEXIST'], database.env);
    assert.equal(retry.status, 1);
    assert.match(retry.stderr, /no job job_DOESNOTEXIST/);
  });

  it('help: fincore, help, --help and -h list every command and exit 0; each command has its own help', () => {
    for (const args of [[], ['help'], ['--help'], ['-h']]) {
      const help = cli(args, {});
      assert.equal(help.status, 0, `${args.join(' ')}: ${help.stderr}`);
      for (const command of ['start', 'api', 'worker', 'psp-simulator', 'reconcile', 'migrate', 'jobs dead', 'jobs retry <job_id>', 'jobs redrive', 'audit verify', 'audit seal']) {
        assert.match(help.stdout, new RegExp(`^  ${command.replace(/[<>]/g, '.')}\\s.*\\w`, 'm'), `${args.join(' ')} lists ${command}`);
      }
    }
    const retryHelp = cli(['jobs', 'retry', '--help'], {});
    assert.equal(retryHelp.status, 0);
    assert.match(retryHelp.stdout, /Usage: fincore jobs retry \[options\] <job_id>/);
    assert.match(retryHelp.stdout, /--url <url>/);
    const reconcileHelp = cli(['help', 'reconcile'], {});
    assert.equal(reconcileHelp.status, 0);
    assert.match(reconcileHelp.stdout, /--all/);
  });

  it('usage errors: one clear line and exit 2', () => {
    const missing = cli(['jobs', 'retry'], {});
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^fincore: missing required argument 'job_id'$/m);
    const unknown = cli(['frobnicate'], {});
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /^fincore: unknown command 'frobnicate'$/m);
    const option = cli(['reconcile', '--everything'], {});
    assert.equal(option.status, 2);
    assert.match(option.stderr, /unknown option '--everything'/);
  });

  it('a busy port: one line naming it, exit 2, no stack trace', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = String((blocker.address() as AddressInfo).port);
    try {
      const own = await freshDatabase();
      try {
        const busy = await cliAsync(['start'], { ...own.env, PORT: port, FINCORE_SIM_PORT: '0' });
        assert.equal(busy.status, 2, busy.stderr);
        assert.match(busy.stderr, new RegExp(`^fincore: port ${port} is in use \\(PORT=${port}\\)`, 'm'));
        assert.doesNotMatch(busy.stderr, /EADDRINUSE|    at /);
        const simBusy = await cliAsync(['psp-simulator'], { FINCORE_SIM_PORT: port });
        assert.equal(simBusy.status, 2, simBusy.stderr);
        assert.match(simBusy.stderr, new RegExp(`port ${port} is in use \\(FINCORE_SIM_PORT=${port}\\)`));
        // The simulator's own parser checks FINCORE_SIM_* when a command starts it: one line, exit 2.
        const badFault = await cliAsync(['psp-simulator'], { FINCORE_SIM_PORT: '0', FINCORE_SIM_FAILURE_RATE: '2' });
        assert.equal(badFault.status, 2, badFault.stderr);
        assert.match(badFault.stderr, /^fincore: Invalid FINCORE_SIM_FAILURE_RATE="2"/m);
        assert.doesNotMatch(badFault.stderr, /    at /);
      } finally {
        await own.drop();
      }
    } finally {
      blocker.close();
    }
  });
});
