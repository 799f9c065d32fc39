// CloudEvents HTTP binding, 3.1.3.2: a ce-* header value keeps printable ASCII (U+0020–U+007E) except `"`
// and `%`; every other character is percent-encoded as UTF-8. Without it, a MinIO key like `日本/📄.xml`
// in ce-subject is an invalid header (undici refuses it) and Latin-1 text arrives mangled.

export function encodeHeaderValue(value: string): string {
  if (/^[\x20-\x21\x23-\x24\x26-\x7e]*$/.test(value)) return value;
  let encoded = '';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (code >= 0x20 && code <= 0x7e && char !== '"' && char !== '%') encoded += char;
    else
      for (const byte of Buffer.from(char, 'utf8'))
        encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/** The inverse, lenient: a malformed escape is kept as it is rather than rejected. */
export function decodeHeaderValue(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
