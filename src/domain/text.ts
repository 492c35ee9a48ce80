/**
 * Text PostgreSQL cannot store: NUL (text and jsonb refuse U+0000) and UTF-16 surrogates that are
 * not part of a pair (they have no UTF-8 form). Both arrive easily in JSON ("\u0000", "\ud800").
 * One rule for everything that reaches the database: API requests (api/plugins/storable-text.ts)
 * and signed PSP events (psp/*: kept as raw bytes instead).
 */
export type TextPath = ReadonlyArray<string | number>;

/** A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * Where the first unstorable string is in a parsed value (a key counts as being where its
 * value is), or undefined. Iterative: the value's depth is bounded by the JSON parser, but this
 * must not depend on it.
 */
export function findUnstorableText(value: unknown): TextPath | undefined {
  const pending: Array<{ value: unknown; path: TextPath }> = [{ value, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: current, path } = next;
    if (typeof current === 'string') {
      if (!isStorableText(current)) return path;
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) pending.push({ value: current[i], path: [...path, i] });
    } else if (current !== null && typeof current === 'object' && !Buffer.isBuffer(current)) {
      const entries = Object.entries(current);
      for (const [key] of entries) if (!isStorableText(key)) return [...path, key];
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i] as [string, unknown];
        pending.push({ value: child, path: [...path, key] });
      }
    }
  }
  return undefined;
}

/** The same, described for a message: null when every string is storable. */
export function unstorableText(value: unknown): string | null {
  const path = findUnstorableText(value);
  if (path === undefined) return null;
  // The path itself may hold the offending key: escape it, the message must be storable too.
  const escape = (part: string | number) => String(part).replace(/[\u0000\ud800-\udfff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const where = path.length === 0 ? 'the top level' : path.map(escape).join('.');
  return `the string at ${where} contains NUL or an unpaired UTF-16 surrogate`;
}
