import type { ScopedVars } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';

/** A field that is exactly one variable reference: `$server`, `${server}`, `${server:raw}` or `[[server]]`. */
const SINGLE_VARIABLE = /^(?:\$\w+|\$\{\w+(?::\w+)?\}|\[\[\w+\]\])$/;

/**
 * Interpolates a server id / job name field into the list of values it stands for. A lone variable is expanded with
 * the `json` format so that multi-value and "All" selections arrive as a list (job names may contain commas, so a
 * csv format could not be split safely). Anything else is interpolated as text and gives one value.
 */
export function interpolateList(text: string | undefined, scopedVars?: ScopedVars): string[] {
  const raw = (text ?? '').trim();
  if (raw === '') {
    return [];
  }
  const srv = getTemplateSrv();
  if (SINGLE_VARIABLE.test(raw)) {
    const expanded = srv.replace(raw.replace(/:\w+\}$/, '}'), scopedVars, 'json');
    try {
      const parsed: unknown = JSON.parse(expanded);
      const list = Array.isArray(parsed) ? parsed : [parsed];
      return [...new Set(list.map((v) => String(v).trim()).filter((v) => v !== ''))];
    } catch {
      // Not JSON: the variable does not exist, Grafana left the text as it was.
      return expanded.trim() === '' ? [] : [expanded.trim()];
    }
  }
  const value = srv.replace(raw, scopedVars).trim();
  return value === '' ? [] : [value];
}
