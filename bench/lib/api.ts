/** Plain HTTP calls to FinCore for seeding (merchants, charges) and for checks. */
import { request } from 'node:http';

export interface Merchant {
  id: string;
  apiKey: string;
}

export interface SeededCharge {
  id: string;
  merchant: Merchant;
}

/**
 * One request on its own connection (no keep-alive pool: FinCore processes come and go on the
 * same port during a run, and a pooled socket of a stopped process would fail the next call).
 */
export function call(baseUrl: string, method: string, path: string, key: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, baseUrl),
      {
        method,
        agent: false,
        timeout: 30_000,
        headers: {
          authorization: `Bearer ${key}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
          } catch {
            reject(new Error(`${method} ${path} answered ${res.statusCode} with a non-JSON body: ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export async function createMerchant(baseUrl: string, adminKey: string, name: string): Promise<Merchant> {
  const answer = await call(baseUrl, 'POST', '/v1/merchants', adminKey, { name });
  if (answer.status !== 201) throw new Error(`POST /v1/merchants answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return { id: String(answer.body.id), apiKey: String(answer.body.api_key) };
}

/** `work(i)` for i = 0..count-1, `concurrency` at a time; the results in index order. */
async function concurrently<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) results[i] = await work(i);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/** `count` charges round-robin over the merchants, `concurrency` requests at a time. */
export async function createCharges(baseUrl: string, merchants: Merchant[], count: number, amount: number, concurrency = 16): Promise<SeededCharge[]> {
  return concurrently(count, concurrency, async (i) => {
    const merchant = merchants[i % merchants.length];
    if (!merchant) throw new Error('no merchants');
    const answer = await call(baseUrl, 'POST', '/v1/charges', merchant.apiKey, { amount, currency: 'usd', payment_method: 'pm_card_visa', description: `bench seed ${i}` });
    if (answer.status !== 201) throw new Error(`POST /v1/charges answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return { id: String(answer.body.id), merchant };
  });
}

/** One refund of `amount` of each charge, `concurrency` requests at a time; returns the refund ids. */
export async function createRefunds(baseUrl: string, charges: SeededCharge[], amount: number, concurrency = 16): Promise<string[]> {
  return concurrently(charges.length, concurrency, async (i) => {
    const charge = charges[i] as SeededCharge;
    const answer = await call(baseUrl, 'POST', '/v1/refunds', charge.merchant.apiKey, { charge_id: charge.id, amount, reason: 'requested_by_customer' });
    if (answer.status !== 201) throw new Error(`POST /v1/refunds answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return String(answer.body.id);
  });
}

/** Statuses of objects by GET (embedded mode, where the bench cannot read the database meanwhile). */
export async function statusesOf(baseUrl: string, kind: 'charges' | 'refunds', objects: Array<{ id: string; key: string }>, concurrency = 8): Promise<Map<string, string>> {
  const statuses = await concurrently(objects.length, concurrency, async (i) => {
    const object = objects[i] as { id: string; key: string };
    const answer = await call(baseUrl, 'GET', `/v1/${kind}/${object.id}`, object.key);
    return [object.id, String(answer.body.status ?? `http_${answer.status}`)] as const;
  });
  return new Map(statuses);
}
