/**
 * The flooding merchant of `npm run bench -- --fairness`, in its own process so its load
 * generation does not share an event loop with the quiet merchant's latency measurement.
 *   node --import tsx bench/lib/flood.ts <api url> <api key> <requests/s> <seconds>
 * Prints one JSON line: the open-loop result (status counts, latency of the accepted ones).
 */
import { openLoop } from './load.ts';

const [url, key, rate, seconds] = process.argv.slice(2);
if (!url || !key || !rate || !seconds) throw new Error('usage: flood.ts <url> <key> <rate> <seconds>');
let n = 0;
const result = await openLoop({
  url,
  path: '/v1/charges',
  rate: Number(rate),
  durationS: Number(seconds),
  maxInFlight: 256,
  make: () => ({
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ amount: 1000 + (n++ % 1000), currency: 'usd', payment_method: 'pm_card_visa' }),
  }),
});
const { bodies: _bodies, ...rest } = result;
process.stdout.write(`${JSON.stringify(rest)}\n`);
