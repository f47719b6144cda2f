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
  try {
    return serialise(value);
  } catch (e) {
    if (e instanceof PathError) throw new CanonicalJsonError(`${e.path.length === 0 ? '/' : `/${e.path.reverse().join('/')}`}: ${e.problem}`);
    throw e;
  }
}

/** Carries where a value that is not JSON sits; the path is built only when one is found. */
class PathError extends Error {
  readonly path: string[] = [];
  constructor(readonly problem: string) {
    super(problem);
  }
}

function serialise(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new PathError(`${value} is not a JSON number`);
      // ECMAScript's Number#toString is RFC 8785's number format; -0 is written 0.
      return Object.is(value, -0) ? '0' : String(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += within(i, value[i]);
        }
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is the order RFC 8785 prescribes.
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(k)}:${within(k, v)}`;
      }
      return `${out}}`;
    }
    default:
      throw new PathError(`a ${typeof value} is not JSON`);
  }
}

function within(key: string | number, value: unknown): string {
  try {
    return serialise(value);
  } catch (e) {
    if (e instanceof PathError) e.path.push(String(key));
    throw e;
  }
}
