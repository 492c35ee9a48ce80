/**
 * One merchant webhook POST (the WEBHOOK job's flow, src/flows/deliver-webhook.ts, decides when
 * and records what happened): any 2xx is delivered; anything else (another status, a timeout, a
 * refused or reset connection) is an attempt that failed.
 *
 * The HTTP call holds no database connection (on embedded PGlite one would block everything),
 * never follows a redirect, reads at most 64 KB of the answer and keeps 1 KB of it.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { checkUrlTarget, classifyAddress } from '../domain/webhook-address.ts';
import type { BreakerSettings } from '../domain/webhook-breaker.ts';

export interface WebhookDeliverySettings {
  timeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  retryWindowMs: number;
  allowPrivateNetworks: boolean;
  /** Enabled endpoints a merchant may have. */
  maxEndpoints: number;
  /** WEBHOOK jobs of one merchant in flight at once, across all workers (both transports). */
  merchantConcurrency: number;
  breaker: BreakerSettings;
}

export const USER_AGENT = 'FinCore-Webhooks/1.0';
const BODY_READ_LIMIT = 64 * 1024;
const ERROR_TEXT_LIMIT = 1024;

// Kept-alive connections: a merchant's endpoint gets many events, each a short POST.
const httpAgent = new HttpAgent({ keepAlive: true });
const httpsAgent = new HttpsAgent({ keepAlive: true });

/** True for an IP address a merchant's URL may not reach (see src/domain/webhook-address.ts: only unicast is allowed). */
export function isPrivateAddress(address: string): boolean {
  return isIP(address) !== 0 && !classifyAddress(address).allowed;
}

/**
 * Resolves as usual, then refuses a name with any non-public address. The connection is made to
 * the addresses returned here, the ones just checked: the check and the connect share one
 * resolution, so DNS rebinding (a second answer, private this time) cannot slip in between.
 */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0);
    const blocked = addresses.map((entry) => classifyAddress(entry.address)).find((verdict) => !verdict.allowed);
    if (blocked) return callback(Object.assign(new Error(`${hostname} resolves to a private or reserved address (${blocked.address}); not delivered`), { code: 'EPRIVATEADDRESS' }), '', 0);
    if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
    const first = addresses[0];
    if (options.all) return callback(null, addresses);
    return callback(null, first?.address ?? '', first?.family ?? 4);
  });
};

export interface AttemptResult {
  delivered: boolean;
  responseStatus: number | null;
  error: string | null;
}

function errorText(status: number, chunks: Buffer[]): string {
  // PostgreSQL text cannot hold NUL; an endpoint's answer may.
  const text = Buffer.concat(chunks).subarray(0, ERROR_TEXT_LIMIT).toString('utf8').replaceAll('\u0000', '');
  return text === '' ? `HTTP ${status}` : text;
}

/** One POST with a hard deadline covering connect, request and answer. Never throws. */
export function postWebhook(url: string, rawBody: string, headers: Record<string, string>, settings: Pick<WebhookDeliverySettings, 'timeoutMs' | 'allowPrivateNetworks'>): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ delivered: false, responseStatus: null, error: 'invalid endpoint URL' });
      return;
    }
    // An IP literal is connected to without a lookup: it is judged here (every form: mapped,
    // 6to4, NAT64, IPv4-compatible), like a resolved name's addresses are in publicOnlyLookup.
    if (!settings.allowPrivateNetworks) {
      const refused = checkUrlTarget(target);
      if (!refused.allowed) {
        resolve({ delivered: false, responseStatus: null, error: `${refused.reason}: a private address; not delivered` });
        return;
      }
    }
    const https = target.protocol === 'https:';
    const request = https ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (result: AttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(result);
    };
    const req = request(target, {
      method: 'POST',
      agent: https ? httpsAgent : httpAgent,
      headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(rawBody)), 'User-Agent': USER_AGENT },
      ...(settings.allowPrivateNetworks ? {} : { lookup: publicOnlyLookup }),
    });
    const deadline = setTimeout(() => req.destroy(new Error(`timed out after ${settings.timeoutMs} ms`)), settings.timeoutMs);
    req.on('error', (error) => finish({ delivered: false, responseStatus: null, error: error.message }));
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const delivered = status >= 200 && status < 300;
      const chunks: Buffer[] = [];
      let kept = 0;
      let read = 0;
      const done = () => finish({ delivered, responseStatus: status, error: delivered ? null : errorText(status, chunks) });
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (kept < ERROR_TEXT_LIMIT) {
          chunks.push(chunk);
          kept += chunk.length;
        }
        if (read > BODY_READ_LIMIT) req.destroy();
      });
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.end(rawBody);
  });
}
