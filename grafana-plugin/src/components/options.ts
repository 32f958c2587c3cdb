import { getTemplateSrv } from '@grafana/runtime';
import type { ComboboxOption } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { serverLabel } from '../frames';

/**
 * Dropdown options shared by the query and variable editors: the dashboard's variables first (so a panel can follow
 * `$server` / `$job`), then what duplistatus lists. A failed request leaves only the variables: the editor stays
 * usable, and the panel itself reports the error.
 */

function variableOptions(): Array<ComboboxOption<string>> {
  return getTemplateSrv()
    .getVariables()
    .map((v) => ({ label: `$${v.name}`, value: `$${v.name}`, group: 'Variables' }));
}

const matches = (input: string, o: ComboboxOption<string>) =>
  input === '' || `${o.label ?? ''} ${o.value}`.toLowerCase().includes(input.toLowerCase());

export function serverOptions(datasource: DataSource): (input: string) => Promise<Array<ComboboxOption<string>>> {
  return async (input) => {
    let servers: Array<ComboboxOption<string>> = [];
    try {
      servers = (await datasource.api.servers()).map((s) => ({
        label: serverLabel(s),
        value: s.id,
        description: s.alias ? s.name : undefined,
      }));
    } catch {
      servers = [];
    }
    return [...variableOptions(), ...servers].filter((o) => matches(input, o));
  };
}

export function jobOptions(
  datasource: DataSource,
  serverId: string | undefined
): (input: string) => Promise<Array<ComboboxOption<string>>> {
  return async (input) => {
    let jobs: Array<ComboboxOption<string>> = [];
    try {
      const values = await datasource.metricFindQuery({ refId: 'jobs', type: 'jobs', serverId });
      jobs = values.map((v) => ({ label: v.text, value: String(v.value ?? v.text) }));
    } catch {
      jobs = [];
    }
    return [...variableOptions(), ...jobs].filter((o) => matches(input, o));
  };
}
