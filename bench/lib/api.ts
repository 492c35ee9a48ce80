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

/** `count` charges round-robin over the merchants, `concurrency` requests at a time. */
export async function createCharges(baseUrl: string, merchants: Merchant[], count: number, amount: number, concurrency = 16): Promise<SeededCharge[]> {
  const charges: SeededCharge[] = new Array<SeededCharge>(count);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const merchant = merchants[i % merchants.length];
      if (!merchant) throw new Error('no merchants');
      const answer = await call(baseUrl, 'POST', '/v1/charges', merchant.apiKey, { amount, currency: 'usd', payment_method: 'pm_card_visa', description: `bench seed ${i}` });
      if (answer.status !== 201) throw new Error(`POST /v1/charges answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      charges[i] = { id: String(answer.body.id), merchant };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return charges;
}

/** One refund of `amount` of each charge, `concurrency` requests at a time; returns the refund ids. */
export async function createRefunds(baseUrl: string, charges: SeededCharge[], amount: number, concurrency = 16): Promise<string[]> {
  const refundIds: string[] = new Array<string>(charges.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      const charge = charges[i];
      if (!charge) return;
      const answer = await call(baseUrl, 'POST', '/v1/refunds', charge.merchant.apiKey, { charge_id: charge.id, amount, reason: 'requested_by_customer' });
      if (answer.status !== 201) throw new Error(`POST /v1/refunds answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      refundIds[i] = String(answer.body.id);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return refundIds;
}

/** Statuses of objects by GET (embedded mode, where the bench cannot read the database meanwhile). */
export async function statusesOf(baseUrl: string, kind: 'charges' | 'refunds', objects: Array<{ id: string; key: string }>, concurrency = 8): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      const object = objects[i];
      if (!object) return;
      const answer = await call(baseUrl, 'GET', `/v1/${kind}/${object.id}`, object.key);
      statuses.set(object.id, String(answer.body.status ?? `http_${answer.status}`));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}
