/**
 * What the by-position fast paths of the ingest parsers share (dates.ts, available-versions.ts): the character codes
 * they compare and reading digits without slicing or Number().
 */

export const CHAR_0 = 0x30;
export const CHAR_9 = 0x39;
export const CHAR_SPACE = 0x20;
export const CHAR_PLUS = 0x2b;
export const CHAR_DASH = 0x2d;
export const CHAR_DOT = 0x2e;
export const CHAR_SLASH = 0x2f;
export const CHAR_COLON = 0x3a;
export const CHAR_T = 0x54;
export const CHAR_Z = 0x5a;

export const MS_PER_SECOND = 1000;
export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;

/** Value of the `count` ASCII digits of `text` from `at`, or -1 when one of them is not a digit. */
export function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const code = text.charCodeAt(i);
    if (code < CHAR_0 || code > CHAR_9) return -1;
    value = value * 10 + (code - CHAR_0);
  }
  return value;
}
