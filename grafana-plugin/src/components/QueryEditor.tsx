import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import {
  Combobox,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  MultiCombobox,
  RadioButtonGroup,
  Stack,
} from '@grafana/ui';

import type { DataSource } from '../datasource';
import { METRIC_INFO } from '../frames';
import {
  DEFAULT_EVENTS,
  DuplistatusOptions,
  DuplistatusQuery,
  EventKind,
  EVENT_KINDS,
  Granularity,
  GRANULARITIES,
  Metric,
  METRICS,
  QueryKind,
  Scope,
  SplitBy,
} from '../types';
import { jobOptions, serverOptions } from './options';

type Props = QueryEditorProps<DataSource, DuplistatusQuery, DuplistatusOptions>;

const QUERY_TYPES: Array<SelectableValue<QueryKind>> = [
  { label: 'Time series', value: 'timeseries', description: 'Chart data over the time range' },
  { label: 'Latest status', value: 'status', description: 'One row per job: status, last run, next expected, overdue' },
  { label: 'Summary', value: 'summary', description: 'Counts by status, overdue jobs, success rate' },
  { label: 'Events', value: 'events', description: 'Failed runs and overdue backups (for annotations)' },
];

const SCOPES: Array<SelectableValue<Scope>> = [
  { label: 'All servers', value: 'all' },
  { label: 'Server', value: 'server' },
  { label: 'Job', value: 'job' },
];

const SPLITS: Array<SelectableValue<SplitBy>> = [
  { label: 'None', value: 'none' },
  { label: 'Per server', value: 'server' },
  { label: 'Per job', value: 'job' },
];

const GRANULARITY_OPTIONS: Array<SelectableValue<Granularity>> = GRANULARITIES.map((g) => ({
  label: g === 'auto' ? 'Auto' : g[0]!.toUpperCase() + g.slice(1),
  value: g,
  description: g === 'auto' ? 'From the panel interval' : undefined,
}));

const METRIC_OPTIONS = METRICS.map((m) => ({ label: METRIC_INFO[m].title, value: m }));

const EVENT_OPTIONS: Record<EventKind, string> = {
  failed: 'Failed runs (Error, Fatal)',
  warning: 'Runs with warnings',
  overdue: 'Overdue backups (open)',
};

export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const type = query.queryType ?? 'timeseries';
  const scope = query.scope ?? 'all';

  // Every change re-runs the query: each control is a discrete choice, not free text typed key by key.
  const update = (patch: Partial<DuplistatusQuery>) => {
    onChange({ ...query, ...patch });
    onRunQuery();
  };

  return (
    <Stack direction="column" gap={0}>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={14}>
          <RadioButtonGroup options={QUERY_TYPES} value={type} onChange={(v) => update({ queryType: v })} />
        </InlineField>
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Scope" labelWidth={14}>
          <RadioButtonGroup options={SCOPES} value={scope} onChange={(v) => update({ scope: v })} />
        </InlineField>
        {scope !== 'all' && (
          <InlineField label="Server" tooltip="A server, or a variable such as $server">
            <Combobox
              width={30}
              createCustomValue
              value={query.serverId ?? null}
              options={serverOptions(datasource)}
              onChange={(o) => update({ serverId: o.value })}
            />
          </InlineField>
        )}
        {scope === 'job' && (
          <InlineField label="Job" tooltip="A backup job, or a variable such as $job">
            <Combobox
              width={30}
              createCustomValue
              value={query.backupName ?? null}
              options={jobOptions(datasource, query.serverId)}
              onChange={(o) => update({ backupName: o.value })}
            />
          </InlineField>
        )}
      </InlineFieldRow>
      {type === 'timeseries' && (
        <InlineFieldRow>
          <InlineField label="Metrics" labelWidth={14}>
            <MultiCombobox<Metric>
              width="auto"
              minWidth={30}
              options={METRIC_OPTIONS}
              value={query.metrics ?? ['uploaded']}
              onChange={(opts) => update({ metrics: opts.map((o) => o.value) })}
            />
          </InlineField>
          <InlineField label="Granularity" tooltip="Bucket size; Auto follows the panel interval">
            <RadioButtonGroup
              options={GRANULARITY_OPTIONS}
              value={query.granularity ?? 'auto'}
              onChange={(v) => update({ granularity: v })}
            />
          </InlineField>
          <InlineField label="Series" tooltip="One series for the scope, or one per server / per job">
            <RadioButtonGroup
              options={SPLITS}
              value={query.splitBy ?? 'none'}
              onChange={(v) => update({ splitBy: v })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {type === 'status' && (
        <InlineFieldRow>
          <InlineField label="Only overdue" labelWidth={14} tooltip="Only the jobs that are overdue now">
            <InlineSwitch
              value={query.onlyOverdue === true}
              onChange={(e) => update({ onlyOverdue: e.currentTarget.checked })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {type === 'events' && (
        <InlineFieldRow>
          <InlineField label="Events" labelWidth={14}>
            <MultiCombobox<EventKind>
              width="auto"
              minWidth={30}
              options={EVENT_KINDS.map((k) => ({ label: EVENT_OPTIONS[k], value: k }))}
              value={query.events ?? DEFAULT_EVENTS}
              onChange={(opts) => update({ events: opts.map((o) => o.value) })}
            />
          </InlineField>
        </InlineFieldRow>
      )}
    </Stack>
  );
}
