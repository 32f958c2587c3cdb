/**
 * JSON.stringify for the log line, warning and error lists stored with every run. Node's JSON.stringify escapes
 * strings character by character (it was the largest single cost of mapping an upload); log lines almost never
 * contain a character that JSON escapes, and one regular-expression scan proving it is several times cheaper.
 * Anything else goes to JSON.stringify itself, so the text is always exactly JSON.stringify(value).
 */

/**
 * Strings JSON.stringify writes verbatim between quotes: no quote, backslash or control character (those are
 * escaped), and no surrogate code unit (a lone one is escaped; pairs are left to JSON.stringify too, for simplicity).
 */
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const VERBATIM_STRING = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

export function stringifyJson(value: unknown): string {
  if (!Array.isArray(value) || typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return JSON.stringify(value);
  }
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== "string" || !VERBATIM_STRING.test(item)) return JSON.stringify(value);
  }
  return stringifyVerbatimStrings(value as readonly string[]);
}

/** JSON.stringify of strings that need no escaping (ISO 8601 timestamps, say), without looking at them. */
export function stringifyVerbatimStrings(items: readonly string[]): string {
  return items.length === 0 ? "[]" : `["${items.join('","')}"]`;
}
