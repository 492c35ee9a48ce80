/**
 * The charge failure codes FinCore writes itself are declared once (src/domain/failure-codes.ts):
 * docs/API.md "Failure codes" lists exactly those, and the code that writes them uses no other.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FINCORE_CHARGE_FAILURE_CODES } from '../src/domain/failure-codes.ts';

describe('failure codes', () => {
  it('docs/API.md "Failure codes" lists FINCORE_CHARGE_FAILURE_CODES, no more, no fewer', () => {
    const doc = readFileSync(new URL('../docs/API.md', import.meta.url), 'utf8');
    const section = doc.split('\n## Failure codes\n')[1]?.split('\n## ')[0];
    assert.ok(section, 'a "## Failure codes" section');
    const table = section.split('A failed refund')[0] ?? '';
    const listed = [...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]).filter((code) => code !== 'failure_code');
    assert.deepEqual([...listed].sort(), [...FINCORE_CHARGE_FAILURE_CODES].sort());
  });

  it('every failure_code literal FinCore writes is declared', () => {
    const sources = ['src/flows/settle.ts', 'src/flows/reviews.ts', 'src/psp/stripe/mapping.ts'].map((f) => readFileSync(new URL(`../${f}`, import.meta.url), 'utf8')).join('\n');
    const written = new Set([...sources.matchAll(/failure_?[cC]ode(?:: | \?\? )'([a-z_]+)'/g)].map((m) => m[1] as string));
    for (const code of ['card_declined']) written.delete(code); // the PSP's own decline code, passed through
    for (const code of written) assert.ok((FINCORE_CHARGE_FAILURE_CODES as readonly string[]).includes(code), `${code} is written but not declared`);
    assert.ok(written.size >= 3, `found ${[...written].join(', ')}`);
  });
});
