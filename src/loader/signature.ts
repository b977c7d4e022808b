/**
 * C function signatures, in the two forms koffi users know:
 *   parseSignature('int crypto_hash(uint8_t *out, const uint8_t *in, uint64_t inlen)')
 *   signatureOf('crypto_hash', 'int', ['uint8_t *', 'const uint8_t *', 'uint64_t'])
 * Types are those that travel in x86-64 registers: integers, bool, double
 * and pointers. A `const` pointer is input only; `const char *` also takes a
 * JavaScript string.
 */

export type CType =
  | { kind: 'void' }
  | { kind: 'bool' }
  | { kind: 'int'; bytes: 1 | 2 | 4 | 8; signed: boolean }
  | { kind: 'double' }
  | { kind: 'pointer'; to: CType; const: boolean; text: string };

export interface Signature {
  name: string;
  result: CType;
  parameters: { name: string | null; type: CType }[];
  /** The signature as written, for messages. */
  text: string;
}

/** A malformed or unsupported signature; the message quotes it. */
export class SignatureError extends TypeError {
  override name = 'SignatureError';
}

const INTEGERS: Record<string, [1 | 2 | 4 | 8, boolean]> = {
  char: [1, true],
  'signed char': [1, true],
  'unsigned char': [1, false],
  short: [2, true],
  'short int': [2, true],
  'unsigned short': [2, false],
  'unsigned short int': [2, false],
  int: [4, true],
  'signed int': [4, true],
  signed: [4, true],
  unsigned: [4, false],
  'unsigned int': [4, false],
  long: [8, true],
  'long int': [8, true],
  'unsigned long': [8, false],
  'unsigned long int': [8, false],
  'long long': [8, true],
  'unsigned long long': [8, false],
  int8_t: [1, true],
  uint8_t: [1, false],
  int16_t: [2, true],
  uint16_t: [2, false],
  int32_t: [4, true],
  uint32_t: [4, false],
  int64_t: [8, true],
  uint64_t: [8, false],
  size_t: [8, false],
  ssize_t: [8, true],
  intptr_t: [8, true],
  uintptr_t: [8, false],
  ptrdiff_t: [8, true],
  off_t: [8, true],
};

/** Parses one type such as `const uint8_t *` or `unsigned long`. */
export function parseType(text: string, context = text): CType {
  const normal = text.replace(/\*/g, ' * ').replace(/\s+/g, ' ').trim();
  const stars = (normal.match(/\*/g) ?? []).length;
  const words = normal.replace(/\*/g, ' ').split(' ').filter(Boolean);
  const constant = words.includes('const');
  const base = words
    .filter((word) => word !== 'const' && word !== 'volatile' && word !== 'struct')
    .join(' ');

  let type: CType;
  if (base === 'void') type = { kind: 'void' };
  else if (base === 'bool' || base === '_Bool') type = { kind: 'bool' };
  else if (base === 'double') type = { kind: 'double' };
  else if (base === 'float' || base === 'long double') {
    throw new SignatureError(`${context}: ${base} is not supported (use double)`);
  } else if (Object.hasOwn(INTEGERS, base)) {
    const [bytes, signed] = INTEGERS[base];
    type = { kind: 'int', bytes, signed };
  } else if (stars > 0 && /^[A-Za-z_]\w*$/.test(base)) {
    type = { kind: 'void' }; // pointer to an opaque struct or typedef
  } else {
    throw new SignatureError(`${context}: unknown type '${text.trim()}'`);
  }
  for (let i = 0; i < stars; i++) {
    type = { kind: 'pointer', to: type, const: constant && i === 0, text: normal };
  }
  return type;
}

/** Parses `type` or `type name`: a trailing word is a name only when the rest is a type. */
function parseParameter(text: string, context: string): Signature['parameters'][number] {
  try {
    return { name: null, type: parseType(text, context) };
  } catch (error) {
    const named = /^(.*?[\s*])([A-Za-z_]\w*)\s*$/.exec(text.trim());
    if (!named) throw error;
    return { name: named[2], type: parseType(named[1], context) };
  }
}

/** Parses `int name(type a, type b)`; parameter names are optional. */
export function parseSignature(text: string): Signature {
  if (typeof text !== 'string') throw new TypeError('a signature must be a string');
  const match = /^\s*(.+?)\s*\b([A-Za-z_]\w*)\s*\(([^()]*)\)\s*;?\s*$/.exec(text);
  if (!match)
    throw new SignatureError(
      `cannot parse signature '${text}': expected 'type name(type arg, ...)'`,
    );
  const [, resultText, name, list] = match;
  const empty = list.trim() === '' || list.trim() === 'void';
  const parameters = empty
    ? []
    : list.split(',').map((parameter) => parseParameter(parameter, text));
  return checked({ name, result: parseType(resultText, text), parameters, text: text.trim() });
}

/** Builds a signature from koffi's (name, result type, argument types) form. */
export function signatureOf(
  name: string,
  result: string,
  parameters: readonly string[],
): Signature {
  if (typeof name !== 'string' || !/^[A-Za-z_]\w*$/.test(name))
    throw new TypeError(`invalid function name ${JSON.stringify(name)}`);
  if (typeof result !== 'string' || !Array.isArray(parameters)) {
    throw new TypeError('func(name, resultType, argTypes): types are strings, argTypes an array');
  }
  const text = `${result} ${name}(${parameters.join(', ')})`;
  return checked({
    name,
    result: parseType(result, text),
    parameters: parameters.map((parameter) => ({ name: null, type: parseType(parameter, text) })),
    text,
  });
}

function checked(signature: Signature): Signature {
  if (signature.parameters.some((parameter) => parameter.type.kind === 'void')) {
    throw new SignatureError(`${signature.text}: a parameter cannot be void`);
  }
  const ints = signature.parameters.filter((parameter) => parameter.type.kind !== 'double').length;
  const doubles = signature.parameters.length - ints;
  if (ints > 6 || doubles > 6) {
    throw new SignatureError(
      `${signature.text}: at most 6 integer or pointer and 6 double arguments pass in registers`,
    );
  }
  return signature;
}
