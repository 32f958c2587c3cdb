import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { Combobox, InlineField, InlineFieldRow, RadioButtonGroup } from '@grafana/ui';

import type { DataSource } from '../datasource';
import type { DuplistatusOptions, DuplistatusQuery, VariableQuery } from '../types';
import { serverOptions } from './options';

type Props = QueryEditorProps<DataSource, DuplistatusQuery, DuplistatusOptions, VariableQuery>;

const TYPES: Array<SelectableValue<VariableQuery['type']>> = [
  { label: 'Servers', value: 'servers', description: 'Text: alias or name; value: server id' },
  { label: 'Jobs', value: 'jobs', description: 'Backup job names, of one server or of all' },
];

/** Variable editor: servers, or the jobs of a server (typically `$server`, for a chained job variable). */
export function VariableQueryEditor({ query, onChange, datasource }: Props) {
  // A dashboard saved with a text query ("servers", "jobs($server)") arrives as a string.
  const current: VariableQuery =
    typeof query === 'string'
      ? { refId: 'variable', ...parseText(query) }
      : { ...query, type: query?.type ?? 'servers' };

  return (
    <InlineFieldRow>
      <InlineField label="Values" labelWidth={14}>
        <RadioButtonGroup options={TYPES} value={current.type} onChange={(type) => onChange({ ...current, type })} />
      </InlineField>
      {current.type === 'jobs' && (
        <InlineField
          label="Server"
          tooltip="Leave empty for the jobs of all servers; $server follows a server variable"
        >
          <Combobox
            width={30}
            isClearable
            createCustomValue
            value={current.serverId ?? null}
            options={serverOptions(datasource)}
            onChange={(o) => onChange({ ...current, serverId: o?.value || undefined })}
          />
        </InlineField>
      )}
    </InlineFieldRow>
  );
}

function parseText(text: string): Pick<VariableQuery, 'type' | 'serverId'> {
  const m = /^jobs\s*(?:\(\s*(.*?)\s*\))?$/i.exec(text.trim());
  return m ? { type: 'jobs', serverId: m[1] || undefined } : { type: 'servers' };
}
