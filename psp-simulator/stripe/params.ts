/**
 * Typed reads of form parameters with Stripe's validation errors (parameter_missing,
 * parameter_invalid_integer, parameter_invalid_empty, parameter_unknown). Nested parameters are
 * named in errors the way Stripe names them: `automatic_payment_methods[enabled]`.
 */
import { invalidRequest } from './errors.ts';
import { asList, isHash, type FormHash, type FormValue } from './form.ts';

const METADATA_MAX_KEYS = 50;
const METADATA_KEY_MAX = 40;
const METADATA_VALUE_MAX = 500;

export class Params {
  constructor(
    private readonly values: FormHash,
    private readonly prefix = '',
  ) {}

  private name(key: string): string {
    return this.prefix === '' ? key : `${this.prefix}[${key}]`;
  }

  has(key: string): boolean {
    return this.values[key] !== undefined;
  }

  /** Stripe refuses parameters it does not know, which catches typos in a client. */
  allowOnly(keys: readonly string[]): void {
    for (const key of Object.keys(this.values)) {
      if (!keys.includes(key)) {
        throw invalidRequest(`Received unknown parameter: ${this.name(key)}`, { code: 'parameter_unknown', param: this.name(key) });
      }
    }
  }

  /** undefined when absent; '' is Stripe's "unset", which optional readers treat as absent. */
  private scalar(key: string): string | undefined {
    const value = this.values[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') {
      throw invalidRequest(`Invalid ${this.name(key)}: must be a string, not an object or array.`, { param: this.name(key) });
    }
    return value;
  }

  private required(key: string): string {
    const value = this.scalar(key);
    if (value === undefined) {
      throw invalidRequest(`Missing required param: ${this.name(key)}.`, { code: 'parameter_missing', param: this.name(key) });
    }
    if (value === '') {
      throw invalidRequest(
        `You passed an empty string for '${this.name(key)}'. We assume empty values are an attempt to unset a parameter; however '${this.name(key)}' cannot be unset. You should remove '${this.name(key)}' from your request or supply a non-empty value.`,
        { code: 'parameter_invalid_empty', param: this.name(key) },
      );
    }
    return value;
  }

  requiredString(key: string): string {
    return this.required(key);
  }

  optionalString(key: string): string | undefined {
    const value = this.scalar(key);
    return value === '' ? undefined : value;
  }

  private toInteger(key: string, text: string): number {
    if (!/^-?[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      throw invalidRequest(`Invalid integer: ${text}`, { code: 'parameter_invalid_integer', param: this.name(key) });
    }
    return Number(text);
  }

  private positive(key: string, value: number): number {
    if (value < 1) {
      throw invalidRequest('This value must be greater than or equal to 1.', { code: 'parameter_invalid_integer', param: this.name(key) });
    }
    return value;
  }

  requiredPositiveInteger(key: string): number {
    return this.positive(key, this.toInteger(key, this.required(key)));
  }

  optionalPositiveInteger(key: string): number | undefined {
    const text = this.optionalString(key);
    return text === undefined ? undefined : this.positive(key, this.toInteger(key, text));
  }

  optionalBoolean(key: string): boolean | undefined {
    const text = this.optionalString(key);
    if (text === undefined) return undefined;
    if (text === 'true') return true;
    if (text === 'false') return false;
    throw invalidRequest(`Invalid boolean: ${text}`, { param: this.name(key) });
  }

  optionalEnum<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    const text = this.optionalString(key);
    if (text === undefined) return undefined;
    const found = allowed.find((candidate) => candidate === text);
    if (found === undefined) {
      throw invalidRequest(`Invalid ${this.name(key)}: must be one of ${allowed.join(', ')}`, { param: this.name(key) });
    }
    return found;
  }

  optionalHash(key: string): Params | undefined {
    const value = this.values[key];
    if (value === undefined || value === '') return undefined;
    if (!isHash(value)) throw invalidRequest(`Invalid hash: ${this.name(key)}`, { param: this.name(key) });
    return new Params(value, this.name(key));
  }

  /** `expand[]=a`, `expand[0]=a` or a lone `expand=a` -> ['a']. */
  stringList(key: string): string[] {
    const value = this.values[key];
    if (value === undefined || value === '') return [];
    if (typeof value === 'string') return [value];
    const list = asList(value);
    if (list === undefined || !list.every((item): item is string => typeof item === 'string')) {
      throw invalidRequest(`Invalid array: ${this.name(key)}`, { param: this.name(key) });
    }
    return list;
  }

  /** Stripe's metadata rules: up to 50 string keys of 40 characters, values of 500; '' unsets. */
  metadata(key = 'metadata'): Record<string, string> {
    const value: FormValue | undefined = this.values[key];
    const metadata = Object.create(null) as Record<string, string>;
    if (value === undefined || value === '') return metadata;
    if (!isHash(value)) throw invalidRequest(`Invalid hash: ${this.name(key)}`, { param: this.name(key) });
    for (const [metaKey, metaValue] of Object.entries(value)) {
      const param = `${this.name(key)}[${metaKey}]`;
      if (typeof metaValue !== 'string') throw invalidRequest(`Invalid value for ${param}: metadata values must be strings.`, { param });
      if (metaKey.length > METADATA_KEY_MAX) {
        throw invalidRequest(`Metadata keys can have up to ${METADATA_KEY_MAX} characters; ${metaKey} has ${metaKey.length}.`, { param });
      }
      if (metaValue.length > METADATA_VALUE_MAX) {
        throw invalidRequest(`Metadata values can have up to ${METADATA_VALUE_MAX} characters.`, { param });
      }
      if (metaValue !== '') metadata[metaKey] = metaValue;
    }
    if (Object.keys(metadata).length > METADATA_MAX_KEYS) {
      throw invalidRequest(`Metadata can have up to ${METADATA_MAX_KEYS} keys.`, { param: this.name(key) });
    }
    return metadata;
  }
}
