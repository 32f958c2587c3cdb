import { expect } from 'chai';
import { FieldType } from '@grafana/data';

import { segment } from '../src/api';
import { autoGranularity, parseVariableQuery } from '../src/datasource';
import { chartFrame, eventsFrame, overdueEvents, runEvents, statusFrame, summaryFrame } from '../src/frames';
import type { ChartData, DashboardResponse } from '../src/types';

/** Pure mapping functions: chart / dashboard JSON → frames, without a server. */

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-20T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('frames (pure)', () => {
  it('chartFrame: one time field, one number field per metric, units, union of buckets with nulls', () => {
    const data: ChartData = {
      metrics: {
        duration: {
          unit: 'seconds',
          data: [
            { timestamp: iso(T0), value: 90 },
            { timestamp: iso(T0 + HOUR), value: 30 },
          ],
        },
        uploaded: { unit: 'bytes', data: [{ timestamp: iso(T0 + 2 * HOUR), value: 1024 }] },
      },
    };
    const frame = chartFrame(data, ['duration', 'uploaded'], { refId: 'A' });
    expect(frame.refId).to.equal('A');
    expect(frame.fields.map((f) => f.name)).to.deep.equal(['time', 'duration', 'uploaded']);
    const [time, duration, uploaded] = frame.fields;
    expect(time!.type).to.equal(FieldType.time);
    expect(time!.values).to.deep.equal([T0, T0 + HOUR, T0 + 2 * HOUR]);
    expect(duration!.config.unit).to.equal('s');
    expect(duration!.values).to.deep.equal([90, 30, null]);
    expect(uploaded!.config.unit).to.equal('bytes');
    expect(uploaded!.values).to.deep.equal([null, null, 1024]);
  });

  it('chartFrame: a duration series that says minutes is converted to seconds; empty data gives an empty frame', () => {
    const minutes: ChartData = { metrics: { duration: { unit: 'minutes', data: [{ timestamp: iso(T0), value: 2 }] } } };
    expect(chartFrame(minutes, ['duration'], { refId: 'A' }).fields[1]!.values).to.deep.equal([120]);
    const empty = chartFrame({ metrics: {} }, ['size', 'files', 'storage', 'versions'], { refId: 'B' });
    expect(empty.length).to.equal(0);
    expect(empty.fields.map((f) => f.config.unit)).to.deep.equal([undefined, 'bytes', 'short', 'bytes', 'short']);
  });

  it('chartFrame: a split series carries its name, labels and a legend name', () => {
    const frame = chartFrame({ metrics: { files: { data: [{ timestamp: iso(T0), value: 5 }] } } }, ['files'], {
      refId: 'A',
      seriesName: 'NAS / Docs',
      labels: { server: 'NAS', job: 'Docs' },
    });
    expect(frame.name).to.equal('NAS / Docs');
    expect(frame.fields[1]!.labels).to.deep.equal({ server: 'NAS', job: 'Docs' });
    expect(frame.fields[1]!.config.displayNameFromDS).to.equal('NAS / Docs files');
  });

  const dashboard: DashboardResponse = {
    serversSummary: [
      {
        id: 's1',
        name: 'nas',
        alias: 'NAS',
        backupInfo: [
          {
            name: 'Docs',
            lastBackupDate: iso(T0),
            lastBackupStatus: 'Success',
            isBackupOverdue: false,
            expectedBackupDate: iso(T0 + 24 * HOUR),
          },
          {
            name: 'Photos',
            lastBackupDate: iso(T0 - 72 * HOUR),
            lastBackupStatus: 'Fatal',
            isBackupOverdue: true,
            expectedBackupDate: iso(T0 - 48 * HOUR),
            expectedBackupElapsed: '2d',
          },
        ],
      },
      { id: 's2', name: 'empty', backupInfo: [] },
      {
        id: 's3',
        name: 'db',
        alias: '',
        backupInfo: [
          {
            name: 'Never',
            lastBackupDate: 'N/A',
            lastBackupStatus: 'N/A',
            isBackupOverdue: false,
            expectedBackupDate: 'N/A',
          },
        ],
      },
    ],
  };

  it('statusFrame: one row per job with typed columns; N/A becomes null / Unknown; filters by server and job', () => {
    const frame = statusFrame(dashboard, 'S');
    expect(frame.length).to.equal(3);
    const col = (name: string) => frame.fields.find((f) => f.name === name)!;
    expect(col('server').values).to.deep.equal(['NAS', 'NAS', 'db']);
    expect(col('status').values).to.deep.equal(['Success', 'Fatal', 'Unknown']);
    expect(col('lastRun').type).to.equal(FieldType.time);
    expect(col('lastRun').values).to.deep.equal([T0, T0 - 72 * HOUR, null]);
    expect(col('nextExpected').values[2]).to.equal(null);
    expect(col('overdue').type).to.equal(FieldType.boolean);
    expect(col('overdue').values).to.deep.equal([false, true, false]);
    expect(statusFrame(dashboard, 'S', { serverIds: ['nas'], backupNames: ['Photos'] }).length).to.equal(1);
  });

  it('summaryFrame: counts by latest status, overdue, and the range figures with a percent unit', () => {
    const frame = summaryFrame(dashboard, { totalBackups: 10, failedBackups: 1, successRate: 90 }, 'S');
    const value = (name: string) => frame.fields.find((f) => f.name === name)!.values[0];
    expect([
      value('servers'),
      value('jobs'),
      value('success'),
      value('failed'),
      value('unknown'),
      value('overdue'),
    ]).to.deep.equal([2, 3, 1, 1, 1, 1]);
    expect(value('successRate')).to.equal(90);
    expect(frame.fields.find((f) => f.name === 'successRate')!.config.unit).to.equal('percent');
  });

  it('events: failed runs in range as regions, open overdue episodes up to now, sorted in one frame', () => {
    const runs = [
      {
        id: '1',
        name: 'Docs',
        date: iso(T0),
        status: 'Error' as const,
        duration_seconds: 60,
        errors: 2,
        errors_array: ['disk full'],
      },
      { id: '2', name: 'Docs', date: iso(T0 - HOUR), status: 'Warning' as const, duration_seconds: 10 },
      { id: '3', name: 'Docs', date: iso(T0 - 100 * HOUR), status: 'Fatal' as const },
    ];
    const failed = runEvents({ name: 'nas', alias: 'NAS' }, runs, ['failed'], T0 - 10 * HOUR, T0 + HOUR);
    expect(failed).to.have.length(1);
    expect(failed[0]).to.include({ kind: 'failed', time: T0, timeEnd: T0 + 60_000, server: 'NAS', job: 'Docs' });
    expect(failed[0]!.text).to.contain('disk full');
    expect(runEvents({ name: 'nas' }, runs, ['warning'], T0 - 10 * HOUR, T0 + HOUR)).to.have.length(1);

    const now = T0 + 2 * HOUR;
    const overdue = overdueEvents(dashboard, T0 - 96 * HOUR, now, now);
    expect(overdue).to.have.length(1);
    expect(overdue[0]).to.include({ kind: 'overdue', time: T0 - 48 * HOUR, timeEnd: now, job: 'Photos' });

    const frame = eventsFrame([...failed, ...overdue], 'E');
    expect(frame.fields.map((f) => f.name).slice(0, 5)).to.deep.equal(['time', 'timeEnd', 'title', 'text', 'tags']);
    expect(frame.fields[0]!.values).to.deep.equal([T0 - 48 * HOUR, T0]);
  });

  it('autoGranularity follows the panel interval and stays under the server bucket limit', () => {
    expect(autoGranularity(undefined, 0, HOUR)).to.equal('auto');
    expect(autoGranularity(30_000, T0, T0 + HOUR)).to.equal('minute');
    expect(autoGranularity(10 * 60_000, T0, T0 + 7 * 24 * HOUR)).to.equal('hour');
    expect(autoGranularity(2 * HOUR, T0, T0 + 90 * 24 * HOUR)).to.equal('day');
    expect(autoGranularity(3 * 24 * HOUR, T0, T0 + 1000 * 24 * HOUR)).to.equal('week');
    // A tiny interval over a long range would exceed 50 000 minute buckets.
    expect(autoGranularity(1000, T0, T0 + 60 * 24 * HOUR)).to.equal('hour');
  });

  it('variable queries: text and object forms', () => {
    expect(parseVariableQuery('servers')).to.deep.equal({ type: 'servers' });
    expect(parseVariableQuery('jobs')).to.deep.equal({ type: 'jobs', serverId: undefined });
    expect(parseVariableQuery('jobs($server)')).to.deep.equal({ type: 'jobs', serverId: '$server' });
    expect(parseVariableQuery({ type: 'jobs', serverId: 'abc' })).to.deep.equal({ type: 'jobs', serverId: 'abc' });
  });

  it('path segments are encoded and dot segments refused', () => {
    expect(segment('a b/c', 'job')).to.equal('a%20b%2Fc');
    expect(() => segment('..', 'job')).to.throw(/Invalid job/);
    expect(() => segment(' ', 'job')).to.throw(/Invalid job/);
  });
});
