/**
 * JSON Canonicalization Scheme (RFC 8785): the one byte sequence of a JSON value that audit entries are hashed
 * and signed in. Object members are sorted by their names as UTF-16 code units; numbers are written as ECMAScript
 * writes them (which is what RFC 8785 specifies); strings use JSON.stringify's escaping, which matches RFC 8785's
 * (it escapes lone surrogates, as the RFC's errata require I-JSON input anyway).
 */
export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

export function canonicalize(value: unknown): string {
  return serialise(value, '');
}

function serialise(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path || '/'}: ${value} is not a JSON number`);
      // ECMAScript's Number#toString is RFC 8785's number format; -0 is written 0.
      return Object.is(value, -0) ? '0' : String(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => serialise(v, `${path}/${i}`)).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
      // Default sort compares UTF-16 code units, which is the order RFC 8785 prescribes.
      keys.sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${serialise(obj[k], `${path}/${k}`)}`).join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${path || '/'}: a ${typeof value} is not JSON`);
  }
}
