/**
 * EXPLAIN (ANALYZE, BUFFERS) of the statements FinCore really runs, whatever they are.
 *
 * FinCore is started in this process (src/main.ts) and `pg.Client.prototype.query` is wrapped
 * while a capture is on: before each data statement reaches the server, the wrapper runs
 * `EXPLAIN (ANALYZE, BUFFERS) <the same statement, same parameters>` on the same connection,
 * in the same transaction state (inside a SAVEPOINT rolled back when FinCore is in a transaction,
 * or in BEGIN ... ROLLBACK when it is not), then lets the statement itself run. So the plans are
 * those of the real statements with their real parameters, under the locks FinCore holds, and
 * nothing the EXPLAIN executed is left behind. auto_explain (LOAD, SET LOCAL, level NOTICE so
 * nothing reaches the server log) adds the plans of statements nested in SQL functions, for a
 * hot path that calls one. Statements are deduplicated by text; the first plan of each is kept.
 */
import pg from 'pg';

export interface ExplainedStatement {
  /** Which request or job the statement belonged to. */
  during: string;
  text: string;
  /** Parameters, shortened. */
  params: string[];
  inTransaction: boolean;
  plan: string;
  /** auto_explain plans of statements run inside functions the statement called. */
  nested: string[];
  error?: string;
}

type QueryFn = (this: pg.Client, config: unknown, values?: unknown, callback?: unknown) => unknown;

const DATA_STATEMENT = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|VALUES|MERGE)\b/i;

export class QueryCapture {
  private readonly proto = pg.Client.prototype as unknown as { query: QueryFn };
  private readonly original: QueryFn;
  private readonly chains = new WeakMap<object, Promise<unknown>>();
  private readonly inTransaction = new WeakMap<object, boolean>();
  private readonly autoExplainLoaded = new WeakMap<object, boolean>();
  private readonly seen = new Set<string>();
  readonly statements: ExplainedStatement[] = [];
  /** Every statement sent while capturing, in order, per `during` label: the round trips. */
  readonly roundTrips: Record<string, string[]> = {};
  during = '';
  active = false;

  constructor() {
    this.original = this.proto.query;
    const capture = this;
    this.proto.query = function (this: pg.Client, config: unknown, values?: unknown, callback?: unknown): unknown {
      return capture.intercept(this, config, values, callback);
    };
  }

  uninstall(): void {
    this.proto.query = this.original;
  }

  private intercept(client: pg.Client, config: unknown, values: unknown, callback: unknown): unknown {
    const original = this.original;
    const text = typeof config === 'string' ? config : typeof (config as { text?: unknown } | null)?.text === 'string' ? (config as { text: string }).text : undefined;
    if (!this.active || text === undefined || typeof (config as { submit?: unknown }).submit === 'function') {
      return original.call(client, config, values, callback);
    }
    (this.roundTrips[this.during] ??= []).push(text.trim().replace(/\s+/g, ' ').slice(0, 120));
    if (/^\s*BEGIN\b/i.test(text)) this.inTransaction.set(client, true);
    else if (/^\s*(COMMIT|ROLLBACK)\s*;?\s*$/i.test(text)) this.inTransaction.set(client, false);
    const params = Array.isArray(values) ? values : ((config as { values?: unknown[] }).values ?? []);
    const observe = DATA_STATEMENT.test(text) && !this.seen.has(text) ? () => this.explain(client, text, params) : () => Promise.resolve();
    const previous = this.chains.get(client) ?? Promise.resolve();
    const cb = typeof values === 'function' ? values : callback;
    if (typeof cb === 'function') {
      const link = previous.then(observe).then(
        () =>
          new Promise<void>((resolve) => {
            const wrapped = (err: unknown, res: unknown) => {
              resolve();
              (cb as (err: unknown, res: unknown) => void)(err, res);
            };
            if (typeof values === 'function') original.call(client, config, wrapped);
            else original.call(client, config, values, wrapped);
          }),
      );
      this.chains.set(client, link.catch(() => undefined));
      return undefined;
    }
    const result = previous.then(observe).then(() => original.call(client, config, values) as Promise<unknown>);
    this.chains.set(client, result.catch(() => undefined));
    return result;
  }

  private async explain(client: pg.Client, text: string, params: unknown[]): Promise<void> {
    this.seen.add(text);
    const run = (sql: string, values?: unknown[]) => this.original.call(client, sql, values) as Promise<pg.QueryResult>;
    const inTx = this.inTransaction.get(client) === true;
    const nested: string[] = [];
    const onNotice = (notice: { message?: string }) => {
      const message = notice.message ?? '';
      if (!message.startsWith('duration:')) return;
      const queryText = /Query Text: ([\s\S]*?)\n/.exec(message)?.[1]?.trim() ?? '';
      if (queryText.startsWith('EXPLAIN') || queryText === text.trim()) return;
      nested.push(message);
    };
    client.on('notice', onNotice);
    const entry: ExplainedStatement = {
      during: this.during,
      text,
      params: params.map((p) => {
        const s = typeof p === 'string' ? p : JSON.stringify(p) ?? String(p);
        return s.length > 80 ? `${s.slice(0, 77)}...` : s;
      }),
      inTransaction: inTx,
      plan: '',
      nested,
    };
    try {
      if (!inTx && !this.autoExplainLoaded.has(client)) {
        this.autoExplainLoaded.set(client, await run("LOAD 'auto_explain'").then(() => true, () => false));
      }
      await run(inTx ? 'SAVEPOINT bench_explain' : 'BEGIN');
      try {
        if (inTx && !this.autoExplainLoaded.has(client)) {
          await run('SAVEPOINT bench_load');
          const loaded = await run("LOAD 'auto_explain'").then(() => true, () => false);
          await run(loaded ? 'RELEASE SAVEPOINT bench_load' : 'ROLLBACK TO SAVEPOINT bench_load');
          this.autoExplainLoaded.set(client, loaded);
        }
        if (this.autoExplainLoaded.get(client)) {
          for (const setting of ['log_min_duration = 0', 'log_analyze = on', 'log_buffers = on', 'log_nested_statements = on', 'log_level = notice']) {
            await run(`SET LOCAL auto_explain.${setting}`);
          }
        }
        const { rows } = await run(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params);
        entry.plan = rows.map((r: Record<string, unknown>) => String(r['QUERY PLAN'])).join('\n');
      } catch (error) {
        entry.error = error instanceof Error ? error.message : String(error);
      } finally {
        await run(inTx ? 'ROLLBACK TO SAVEPOINT bench_explain' : 'ROLLBACK').catch(() => undefined);
        if (inTx) await run('RELEASE SAVEPOINT bench_explain').catch(() => undefined);
      }
    } catch (error) {
      entry.error = error instanceof Error ? error.message : String(error);
    } finally {
      client.off('notice', onNotice);
      this.statements.push(entry);
    }
  }
}

export function formatExplained(statements: ExplainedStatement[]): string {
  return statements
    .map((s, i) =>
      [
        `-- [${i + 1}] ${s.during}${s.inTransaction ? ' (inside a transaction)' : ''}`,
        s.text.trim().replace(/\s+/g, ' '),
        s.params.length ? `-- params: ${s.params.join(' | ')}` : '',
        s.error ? `-- EXPLAIN failed: ${s.error}` : s.plan,
        ...s.nested.map((n) => `-- nested (auto_explain):\n${n}`),
      ]
        .filter((l) => l !== '')
        .join('\n'),
    )
    .join('\n\n');
}
