/**
 * Text PostgreSQL cannot store: NUL (text and jsonb refuse U+0000) and UTF-16 surrogates that are
 * not part of a pair (they have no UTF-8 form). Both arrive easily in JSON ("\u0000", "\ud800").
 */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/**
 * The path of the first string (or object key) in a parsed JSON value that PostgreSQL cannot
 * store, described for a message; null when every string is storable. Iterative, so a deeply
 * nested value cannot overflow the stack.
 */
export function unstorableText(value: unknown): string | null {
  const stack: Array<{ value: unknown; path: string }> = [{ value, path: '' }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (typeof current === 'string') {
      if (!isStorableText(current)) return `the string at ${path || 'the top level'} contains NUL or an unpaired UTF-16 surrogate`;
    } else if (Array.isArray(current)) {
      current.forEach((item, index) => stack.push({ value: item, path: `${path}[${index}]` }));
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, item] of Object.entries(current)) {
        if (!isStorableText(key)) return `a key in ${path || 'the top level'} contains NUL or an unpaired UTF-16 surrogate`;
        stack.push({ value: item, path: path ? `${path}.${key}` : key });
      }
    }
  }
  return null;
}
