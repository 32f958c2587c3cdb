/**
 * `parse` computed once per distinct input string, for values read on every upload from a handful of distinct
 * settings (a job's interval, its weekdays). The results are shared: callers must treat them as read-only (they are
 * frozen when they are objects). At most `max` entries: the map is emptied when full, since the strings come from
 * user settings. A `parse` that throws caches nothing and throws again next time.
 */
export function memoByString<T>(parse: (text: string) => T, max: number): (text: string) => T {
  const results = new Map<string, T>();
  return (text) => {
    if (results.has(text)) return results.get(text) as T;
    const value = parse(text);
    if (value !== null && typeof value === "object") Object.freeze(value);
    if (results.size >= max) results.clear();
    results.set(text, value);
    return value;
  };
}
