/**
 * Money is an integer count of the currency's minor unit. ISO 4217 exponents decide how many
 * minor units make one major unit (display only: FinCore never converts or divides).
 */
export const MIN_AMOUNT = 1;
export const MAX_AMOUNT = 99_999_999;

// ISO 4217 active codes with their minor-unit exponent (lowercase, as the API returns them).
const EXPONENTS: ReadonlyMap<string, number> = new Map(
  Object.entries({
    aed: 2, afn: 2, all: 2, amd: 2, ang: 2, aoa: 2, ars: 2, aud: 2, awg: 2, azn: 2, bam: 2, bbd: 2,
    bdt: 2, bgn: 2, bhd: 3, bif: 0, bmd: 2, bnd: 2, bob: 2, brl: 2, bsd: 2, btn: 2, bwp: 2, byn: 2,
    bzd: 2, cad: 2, cdf: 2, chf: 2, clp: 0, cny: 2, cop: 2, crc: 2, cup: 2, cve: 2, czk: 2, djf: 0,
    dkk: 2, dop: 2, dzd: 2, egp: 2, ern: 2, etb: 2, eur: 2, fjd: 2, fkp: 2, gbp: 2, gel: 2, ghs: 2,
    gip: 2, gmd: 2, gnf: 0, gtq: 2, gyd: 2, hkd: 2, hnl: 2, htg: 2, huf: 2, idr: 2, ils: 2, inr: 2,
    iqd: 3, irr: 2, isk: 0, jmd: 2, jod: 3, jpy: 0, kes: 2, kgs: 2, khr: 2, kmf: 0, kpw: 2, krw: 0,
    kwd: 3, kyd: 2, kzt: 2, lak: 2, lbp: 2, lkr: 2, lrd: 2, lsl: 2, lyd: 3, mad: 2, mdl: 2, mga: 2,
    mkd: 2, mmk: 2, mnt: 2, mop: 2, mru: 2, mur: 2, mvr: 2, mwk: 2, mxn: 2, myr: 2, mzn: 2, nad: 2,
    ngn: 2, nio: 2, nok: 2, npr: 2, nzd: 2, omr: 3, pab: 2, pen: 2, pgk: 2, php: 2, pkr: 2, pln: 2,
    pyg: 0, qar: 2, ron: 2, rsd: 2, rub: 2, rwf: 0, sar: 2, sbd: 2, scr: 2, sdg: 2, sek: 2, sgd: 2,
    shp: 2, sle: 2, sos: 2, srd: 2, ssp: 2, stn: 2, svc: 2, syp: 2, szl: 2, thb: 2, tjs: 2, tmt: 2,
    tnd: 3, top: 2, try: 2, ttd: 2, twd: 2, tzs: 2, uah: 2, ugx: 0, usd: 2, uyu: 2, uzs: 2, ves: 2,
    vnd: 0, vuv: 0, wst: 2, xaf: 0, xcd: 2, xof: 0, xpf: 0, yer: 2, zar: 2, zmw: 2, zwg: 2,
  }),
);

/** Lowercase ISO 4217 code when `input` names a known currency (any case), else undefined. */
export function normalizeCurrency(input: string): string | undefined {
  // ASCII only: toLowerCase maps look-alikes such as the Kelvin sign (U+212A) to ASCII letters.
  if (!/^[A-Za-z]{3}$/.test(input)) return undefined;
  const code = input.toLowerCase();
  return EXPONENTS.has(code) ? code : undefined;
}

export function currencyExponent(currency: string): number {
  const exponent = EXPONENTS.get(currency.toLowerCase());
  if (exponent === undefined) throw new RangeError(`unknown currency ${currency}`);
  return exponent;
}

/** A JSON value is a valid amount: a safe integer within the contract's bounds. */
export function isValidAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= MIN_AMOUNT && value <= MAX_AMOUNT;
}

/** "15.00" for 1500 usd, "1500" for 1500 jpy, "1.500" for 1500 kwd. Integer arithmetic only. */
export function formatMinorUnits(amount: number, currency: string): string {
  const exponent = currencyExponent(currency);
  const sign = amount < 0 ? '-' : '';
  const digits = Math.abs(amount).toString().padStart(exponent + 1, '0');
  if (exponent === 0) return sign + digits;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}
