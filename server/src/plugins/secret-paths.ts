/**
 * The secret fields of a plugin's configuration, addressed by path patterns: dot-separated segments, "*" for any
 * key of an object or any index of an array ("apiKey", "targets.*.headers.*"). Everything here is pure and works
 * on copies of JSON-like values.
 */

export type PathSegment = string | number;

const SEGMENT = /^(\*|[A-Za-z0-9_$-]+)$/;

/** A problem with a plugin's secret patterns, or null when they are all well-formed. */
export function secretPatternProblem(patterns: unknown): string | null {
  if (patterns === undefined) return null;
  if (!Array.isArray(patterns)) return "secrets must be an array of paths";
  for (const p of patterns) {
    if (typeof p !== "string" || p === "" || !p.split(".").every((s) => SEGMENT.test(s))) {
      return `invalid secret path ${JSON.stringify(p)}: dot-separated names or "*"`;
    }
  }
  return null;
}

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => v !== null && typeof v === "object";

function collect(value: unknown, segments: string[], prefix: PathSegment[], out: PathSegment[][]): void {
  if (segments.length === 0) {
    if (value !== undefined) out.push(prefix);
    return;
  }
  if (!isContainer(value)) return;
  const [head, ...rest] = segments as [string, ...string[]];
  if (Array.isArray(value)) {
    const indices = head === "*" ? value.map((_, i) => i) : /^\d+$/.test(head) ? [Number(head)] : [];
    for (const i of indices) if (i < value.length) collect(value[i], rest, [...prefix, i], out);
    return;
  }
  const keys = head === "*" ? Object.keys(value) : Object.hasOwn(value, head) ? [head] : [];
  for (const k of keys) collect(value[k], rest, [...prefix, k], out);
}

/** The concrete paths of every secret present in `value`. */
export function secretPaths(value: unknown, patterns: readonly string[]): PathSegment[][] {
  const out: PathSegment[][] = [];
  const seen = new Set<string>();
  for (const pattern of patterns) {
    const found: PathSegment[][] = [];
    collect(value, pattern.split("."), [], found);
    for (const p of found) {
      const key = JSON.stringify(p);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(p);
      }
    }
  }
  return out;
}

export function getAt(value: unknown, path: readonly PathSegment[]): unknown {
  let cur: unknown = value;
  for (const seg of path) {
    if (!isContainer(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[String(seg)];
  }
  return cur;
}

function setAt(value: unknown, path: readonly PathSegment[], leaf: unknown): void {
  let cur: unknown = value;
  for (const seg of path.slice(0, -1)) cur = (cur as Record<string, unknown>)[String(seg)];
  (cur as Record<string, unknown>)[String(path[path.length - 1])] = leaf;
}

export const pathText = (path: readonly PathSegment[]): string => path.map(String).join(".");

/** A deep copy with every secret leaf replaced by `replace(leaf, path)`. */
export function mapSecrets(
  value: unknown,
  patterns: readonly string[],
  replace: (leaf: unknown, path: PathSegment[]) => unknown,
): unknown {
  if (patterns.length === 0 || !isContainer(value)) return value === undefined ? value : structuredClone(value);
  const copy = structuredClone(value);
  for (const path of secretPaths(copy, patterns)) setAt(copy, path, replace(getAt(copy, path), path));
  return copy;
}

/** What the API shows for a secret that has a value. */
export const SECRET_SET = Object.freeze({ set: true as const });

/** Non-empty secret strings become {"set": true}; anything else that sits at a secret path is shown as set too. */
export function redactSecrets(value: unknown, patterns: readonly string[]): unknown {
  return mapSecrets(value, patterns, (leaf) =>
    leaf === null || leaf === "" || leaf === undefined ? leaf : { ...SECRET_SET },
  );
}

/** `{"set": true}` sent back by a client: keep the stored value. */
export const isKeepMarker = (v: unknown): boolean =>
  isContainer(v) && !Array.isArray(v) && Object.keys(v).length === 1 && (v as { set?: unknown }).set === true;
