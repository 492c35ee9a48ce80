/**
 * Stripe's request encoding: application/x-www-form-urlencoded with bracket notation, for POST
 * bodies and GET query strings alike. `metadata[fincore_id]=ch_1` is a hash, `expand[]=a` appends
 * to an array, and `expand[0]=a` (what the official SDK sends) is a hash with integer keys that
 * readers accept wherever an array is expected, as Stripe's server (Rack) does.
 */

export type FormValue = string | FormValue[] | FormHash;
export interface FormHash {
  [key: string]: FormValue;
}

export class FormError extends Error {}

function newHash(): FormHash {
  // No prototype: a parameter named `__proto__` or `constructor` is just a key.
  return Object.create(null) as FormHash;
}

export function isHash(value: FormValue | undefined): value is FormHash {
  return typeof value === 'object' && !Array.isArray(value);
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    throw new FormError(`Invalid percent-encoding in ${JSON.stringify(component)}.`);
  }
}

/** `a[b][]` -> ['a', 'b', ''] ('' = append). */
function keyPath(key: string): string[] {
  const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
  if (match === null) throw new FormError(`Invalid parameter name: ${key}`);
  const [, head = '', brackets = ''] = match;
  const path = [head];
  for (const segment of brackets.matchAll(/\[([^[\]]*)\]/g)) path.push(segment[1] ?? '');
  return path;
}

function conflict(key: string): FormError {
  return new FormError(`Invalid array or hash for parameter ${key}: it is given both as a value and as a nested object.`);
}

/** Puts one decoded `key=value` pair into the tree, following Rack's rules for `[]`. */
function assign(root: FormHash, key: string, value: string): void {
  const path = keyPath(key);
  let container: FormHash | FormValue[] = root;
  for (let i = 0; i < path.length; i += 1) {
    const segment = path[i] ?? '';
    const last = i === path.length - 1;
    if (Array.isArray(container)) {
      if (segment !== '') throw conflict(key);
      if (last) {
        container.push(value);
        return;
      }
      // `a[][x]=1&a[][y]=2` builds one element; a repeated `x` starts the next one.
      const nextKey = path[i + 1] ?? '';
      const tail: FormValue | undefined = container[container.length - 1];
      if (isHash(tail) && nextKey !== '' && !(nextKey in tail)) {
        container = tail;
      } else {
        const element: FormHash | FormValue[] = nextKey === '' ? [] : newHash();
        container.push(element);
        container = element;
      }
      continue;
    }
    if (segment === '') throw conflict(key);
    if (last) {
      const existing = container[segment];
      if (existing !== undefined && typeof existing !== 'string') throw conflict(key);
      container[segment] = value; // a repeated scalar: the last one wins, as in Rack
      return;
    }
    const wantsArray = path[i + 1] === '';
    const existing: FormValue | undefined = container[segment];
    if (existing === undefined) {
      const child: FormHash | FormValue[] = wantsArray ? [] : newHash();
      container[segment] = child;
      container = child;
    } else if (typeof existing === 'string' || Array.isArray(existing) !== wantsArray) {
      throw conflict(key);
    } else {
      container = existing;
    }
  }
}

export function parseForm(text: string): FormHash {
  const root = newHash();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    if (key === '') continue;
    assign(root, key, value);
  }
  return root;
}

/**
 * A hash whose keys are all integers (`a[0]=x&a[1]=y`) read as an array in index order; an array
 * as itself; anything else undefined.
 */
export function asList(value: FormValue | undefined): FormValue[] | undefined {
  if (Array.isArray(value)) return value;
  if (!isHash(value)) return undefined;
  const keys = Object.keys(value);
  if (!keys.every((k) => /^(0|[1-9][0-9]*)$/.test(k))) return undefined;
  return keys
    .map(Number)
    .sort((a, b) => a - b)
    .map((index) => value[String(index)] as FormValue);
}

/** Key-order independent text of a parameter tree: two requests have the same parameters iff equal. */
export function fingerprint(value: FormValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(fingerprint).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${fingerprint(value[k] as FormValue)}`).join(',')}}`;
}
