// Amounts are integers in the currency's minor unit; the ISO 4217 exponent decides the
// decimals. The table is the API's own (src/domain/money.ts), so what the dashboard shows can
// never disagree with what the API accepted: jpy/krw 0 decimals, kwd/bhd/jod/omr/tnd 3, most 2.
import { currencyExponent } from '../../src/domain/money.ts';

export function minorUnitExponent(currency: string): number {
  try {
    return currencyExponent(currency);
  } catch {
    return 2;
  }
}

/** 1500 usd -> "$15.00", 1500 jpy -> "¥1,500", 1500 kwd -> "KWD 1.500" (en-US). */
export function formatAmount(amount: number, currency: string, locale = 'en-US'): string {
  const exponent = minorUnitExponent(currency);
  const major = amount / 10 ** exponent;
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase(), minimumFractionDigits: exponent, maximumFractionDigits: exponent }).format(major);
  } catch {
    return `${new Intl.NumberFormat(locale, { minimumFractionDigits: exponent, maximumFractionDigits: exponent }).format(major)} ${currency.toUpperCase()}`;
  }
}
