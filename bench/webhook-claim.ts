/**
 * The webhook lane's claim behind a backlog (issue 14): the fair claim (claimWebhookJobs) against
 * the FIFO claim it replaced (claimDueJobs on the WEBHOOK lane), on a PostgreSQL server.
 * Scenarios: one merchant with 100,000 due jobs; that backlog plus 1,000 merchants with one job
 * each. Each claim runs in a transaction that is rolled back, so every round sees the same queue.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/webhook-claim.ts
 */
import pg from 'pg';
import { claimDueJobs, claimWebhookJobs } from '../src/db/jobs.ts';
import { migrate } from '../src/db/migrate.ts';

const serverUrl = process.env.DATABASE_URL;
if (!serverUrl) throw new Error('DATABASE_URL: a PostgreSQL server');
const name = `fincore_bench_claim_${process.pid}`;
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
// DROP DATABASE ... WITH (FORCE) at the end ends the pool's idle connections.
pool.on('error', () => undefined);

async function seed(merchants: number, backlog: number): Promise<void> {
  await pool.query(
    `INSERT INTO jobs (id, job_type, ref, max_attempts, merchant_id, run_at)
     SELECT 'job_b0_' || g, 'WEBHOOK', 'whd_b0_' || g, 10000, 'mer_b0', now() - interval '1 hour' + g * interval '1 ms' FROM generate_series(1, $1) g`,
    [backlog],
  );
  if (merchants > 0) {
    await pool.query(
      `INSERT INTO jobs (id, job_type, ref, max_attempts, merchant_id, run_at)
       SELECT 'job_bm_' || g, 'WEBHOOK', 'whd_bm_' || g, 10000, 'mer_b' || g, now() - interval '10 minutes' FROM generate_series(1, $1) g`,
      [merchants],
    );
  }
  await pool.query('VACUUM ANALYZE jobs');
}

async function time(label: string, claim: (client: pg.PoolClient) => Promise<unknown[]>): Promise<void> {
  const client = await pool.connect();
  const samples: number[] = [];
  let claimed = 0;
  try {
    for (let i = 0; i < 60; i++) {
      await client.query('BEGIN');
      const start = process.hrtime.bigint();
      claimed = (await claim(client)).length;
      samples.push(Number(process.hrtime.bigint() - start) / 1e6);
      await client.query('ROLLBACK');
    }
  } finally {
    client.release();
  }
  const sorted = samples.slice(10).sort((a, b) => a - b);
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]?.toFixed(2);
  console.log(`${label}: claimed ${claimed}, p50 ${p(0.5)} ms, p95 ${p(0.95)} ms`);
}

try {
  await migrate(pool);
  for (const [merchants, backlog] of [[0, 100_000], [1000, 100_000]] as const) {
    await pool.query(`DELETE FROM jobs`);
    await seed(merchants, backlog);
    console.log(`-- ${backlog} due jobs of one merchant, ${merchants} other merchants with one each`);
    await time('FIFO claimDueJobs(WEBHOOK), 4', (c) => claimDueJobs(c, 'wrk_bench', 4, 30_000, ['WEBHOOK']));
    await time('fair claimWebhookJobs, 4     ', (c) => claimWebhookJobs(c, 'wrk_bench', 4, 30_000, 8));
    await time('FIFO claimDueJobs(WEBHOOK), 16', (c) => claimDueJobs(c, 'wrk_bench', 16, 30_000, ['WEBHOOK']));
    await time('fair claimWebhookJobs, 16    ', (c) => claimWebhookJobs(c, 'wrk_bench', 16, 30_000, 8));
  }
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
