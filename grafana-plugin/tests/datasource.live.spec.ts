import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { expect } from 'chai';
import { FieldType, type DataFrame, type MetricFindValue } from '@grafana/data';
import { lastValueFrom } from 'rxjs';

import type { DataSource } from '../src/datasource';
import type { DuplistatusQuery, VariableQuery } from '../src/types';
import { makeDataSource, request, useProxy, useVariables } from './support/grafana';
import {
  createToken,
  freePort,
  REPO_ROOT,
  startServer,
  upload,
  type LiveServer,
  type SeedRun,
} from './support/live-server';

/**
 * The plugin against a live duplistatus: the server is started by the suite and seeded through /api/upload; only
 * Grafana's fetch is replaced (Node fetch + the plugin.json route headers, as Grafana's data proxy applies them).
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.now();
// Whole seconds: the server stores millisecond ISO dates, and the expectations compare exact instants.
const at = (hoursAgo: number) => new Date(Math.floor((NOW - hoursAgo * HOUR) / 1000) * 1000);

const NAS = { machineId: 'nas-0001', machineName: 'NAS-HOME' };
const DB = { machineId: 'db-0002', machineName: 'DB-PROD-01' };
const WSJ = { machineId: 'wsj-0003', machineName: 'WSJ-SER5' };

const SEED: SeedRun[] = [
  {
    ...NAS,
    fixture: '02-success-loglines-retention.json',
    backupName: 'Documents',
    begin: at(50),
    uploadedBytes: 1000,
    durationSeconds: 600,
  },
  {
    ...NAS,
    fixture: '02-success-loglines-retention.json',
    backupName: 'Documents',
    begin: at(26),
    uploadedBytes: 2000,
    durationSeconds: 1200,
  },
  {
    ...NAS,
    fixture: '02-success-loglines-retention.json',
    backupName: 'Documents',
    begin: at(2),
    uploadedBytes: 4000,
    durationSeconds: 300,
  },
  {
    ...NAS,
    fixture: '04-fatal-exception-newer-shape.json',
    backupName: 'Photos',
    begin: at(30),
    uploadedBytes: 0,
    durationSeconds: 60,
  },
  {
    ...NAS,
    fixture: '01-upstream-sample-success.json',
    backupName: 'Photos',
    begin: at(6),
    status: 'Error',
    uploadedBytes: 500,
    durationSeconds: 120,
  },
  // Eight days ago: outside the 7-day range, and overdue by now (daily schedule by default).
  {
    ...DB,
    fixture: '03-warning-generator-style.json',
    backupName: 'Databases',
    begin: at(200),
    uploadedBytes: 70000,
    durationSeconds: 432,
  },
  {
    ...WSJ,
    fixture: '01-upstream-sample-success.json',
    backupName: 'Local files',
    begin: at(3),
    uploadedBytes: 8000,
    durationSeconds: 900,
  },
];

const FROM = NOW - 7 * DAY;
const TO = NOW;
const inRange = SEED.filter((r) => r.begin.getTime() >= FROM && r.begin.getTime() <= TO);

/** Expected per-bucket sums of a figure, from the seed (bucket start = UTC floor). */
function expectedBuckets(runs: SeedRun[], bucketMs: number, figure: (r: SeedRun) => number): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of runs) {
    const t = Math.floor(r.begin.getTime() / bucketMs) * bucketMs;
    out.set(t, (out.get(t) ?? 0) + figure(r));
  }
  return out;
}

const field = (frame: DataFrame, name: string) => {
  const f = frame.fields.find((x) => x.name === name);
  expect(f, `field ${name} in ${frame.fields.map((x) => x.name).join(',')}`).to.not.equal(undefined);
  return f!;
};
const sum = (values: unknown[]) => values.reduce<number>((s, v) => s + (typeof v === 'number' ? v : 0), 0);
/** The frame as {bucket time → value} for one metric, without the null fill. */
const series = (frame: DataFrame, name: string) => {
  const times = field(frame, 'time').values as number[];
  const values = field(frame, name).values as Array<number | null>;
  return new Map(times.map((t, i) => [t, values[i]] as const).filter(([, v]) => v !== null) as Array<[number, number]>);
};

describe('data source against a live duplistatus', function () {
  let server: LiveServer;
  let readToken: string;
  let uploadToken: string;
  let ds: DataSource;

  before(async function () {
    this.timeout(180_000);
    server = await startServer();
    for (const run of SEED) {
      await upload(server, run);
    }
    readToken = await createToken(server, 'read', 'grafana');
    uploadToken = await createToken(server, 'upload', 'duplicati');
  });

  after(async () => {
    await server?.stop();
  });

  beforeEach(() => {
    useProxy(server.url, readToken);
    useVariables({});
    ds = makeDataSource();
  });

  const run = async (targets: Array<Partial<DuplistatusQuery>>, intervalMs = HOUR, from = FROM, to = TO) => {
    const res = await ds.query(
      request(
        targets.map((t, i) => ({ refId: t.refId ?? String.fromCharCode(65 + i), ...t })),
        from,
        to,
        intervalMs
      )
    );
    return res;
  };

  describe('query(): time series', () => {
    it('all servers, two metrics, day buckets: time + one field per metric with units and the seeded sums', async () => {
      const res = await run([
        { queryType: 'timeseries', scope: 'all', metrics: ['uploaded', 'duration'], granularity: 'day' },
      ]);
      expect(res.errors, JSON.stringify(res.errors)).to.equal(undefined);
      expect(res.data).to.have.length(1);
      const frame = res.data[0] as DataFrame;
      expect(frame.refId).to.equal('A');
      expect(frame.fields.map((f) => f.name)).to.deep.equal(['time', 'uploaded', 'duration']);
      expect(field(frame, 'time').type).to.equal(FieldType.time);
      expect(field(frame, 'uploaded').type).to.equal(FieldType.number);
      expect(field(frame, 'uploaded').config.unit).to.equal('bytes');
      expect(field(frame, 'duration').config.unit).to.equal('s');
      // Buckets are UTC day starts, and the values are the seeded runs summed per day.
      for (const t of field(frame, 'time').values as number[]) {
        expect(t % DAY).to.equal(0);
      }
      expect(series(frame, 'uploaded')).to.deep.equal(expectedBuckets(inRange, DAY, (r) => r.uploadedBytes ?? 0));
      expect(series(frame, 'duration')).to.deep.equal(expectedBuckets(inRange, DAY, (r) => r.durationSeconds ?? 0));
      expect(sum(field(frame, 'uploaded').values)).to.equal(15500);
    });

    it('granularity auto follows the panel interval (10 min → hour buckets)', async () => {
      const res = await run([{ metrics: ['uploaded'], granularity: 'auto' }], 10 * 60_000);
      const frame = res.data[0] as DataFrame;
      expect(series(frame, 'uploaded')).to.deep.equal(expectedBuckets(inRange, HOUR, (r) => r.uploadedBytes ?? 0));
    });

    it('gauges (size, files, storage, versions) come as bytes / short fields', async () => {
      const res = await run([{ metrics: ['size', 'files', 'storage', 'versions'], granularity: 'day' }]);
      const frame = res.data[0] as DataFrame;
      expect(frame.fields.map((f) => [f.name, f.config.unit])).to.deep.equal([
        ['time', undefined],
        ['size', 'bytes'],
        ['files', 'short'],
        ['storage', 'bytes'],
        ['versions', 'short'],
      ]);
      expect(frame.length).to.be.greaterThan(0);
      expect((field(frame, 'size').values as number[]).every((v) => v === null || v >= 0)).to.equal(true);
    });

    it('one series per server: a frame per server, named, with its own sums', async () => {
      const res = await run([{ scope: 'all', splitBy: 'server', metrics: ['uploaded'], granularity: 'day' }]);
      const byName = new Map((res.data as DataFrame[]).map((f) => [f.name, f]));
      expect([...byName.keys()].sort()).to.deep.equal(['DB-PROD-01', 'NAS-HOME', 'WSJ-SER5']);
      expect(sum(field(byName.get('NAS-HOME')!, 'uploaded').values)).to.equal(7500);
      expect(sum(field(byName.get('WSJ-SER5')!, 'uploaded').values)).to.equal(8000);
      // No run in range: an empty frame, not zeros.
      expect(byName.get('DB-PROD-01')!.length).to.equal(0);
      expect(field(byName.get('NAS-HOME')!, 'uploaded').labels).to.deep.equal({ server: 'NAS-HOME' });
    });

    it('one series per job of a server', async () => {
      const res = await run([
        { scope: 'server', serverId: NAS.machineId, splitBy: 'job', metrics: ['uploaded'], granularity: 'day' },
      ]);
      const byName = new Map((res.data as DataFrame[]).map((f) => [f.name, f]));
      expect([...byName.keys()].sort()).to.deep.equal(['NAS-HOME / Documents', 'NAS-HOME / Photos']);
      expect(sum(field(byName.get('NAS-HOME / Documents')!, 'uploaded').values)).to.equal(7000);
      expect(sum(field(byName.get('NAS-HOME / Photos')!, 'uploaded').values)).to.equal(500);
    });

    it('job scope with template variables, multi-value job → one series per job', async () => {
      useVariables({ server: NAS.machineId, job: ['Documents', 'Photos'] });
      const res = await run([
        { scope: 'job', serverId: '$server', backupName: '${job}', metrics: ['duration'], granularity: 'day' },
      ]);
      expect(res.errors).to.equal(undefined);
      const names = (res.data as DataFrame[]).map((f) => f.name).sort();
      expect(names).to.deep.equal(['NAS-HOME / Documents', 'NAS-HOME / Photos']);
      const photos = (res.data as DataFrame[]).find((f) => f.name === 'NAS-HOME / Photos')!;
      expect(sum(field(photos, 'duration').values)).to.equal(180);
    });

    it('a single server by name (duplistatus resolves unique names too)', async () => {
      const res = await run([{ scope: 'server', serverId: 'WSJ-SER5', metrics: ['uploaded'], granularity: 'day' }]);
      expect(res.errors).to.equal(undefined);
      expect(sum(field(res.data[0] as DataFrame, 'uploaded').values)).to.equal(8000);
    });

    it('errors are per query: an unknown server fails its refId, the other query still returns', async () => {
      const res = await run([
        { refId: 'bad', scope: 'server', serverId: 'no-such-server', metrics: ['uploaded'] },
        { refId: 'missingJob', scope: 'job', serverId: NAS.machineId, backupName: 'Nope', metrics: ['uploaded'] },
        { refId: 'good', metrics: ['uploaded'], granularity: 'day' },
      ]);
      expect(res.data.map((f: DataFrame) => f.refId)).to.deep.equal(['good']);
      const errors = new Map((res.errors ?? []).map((e) => [e.refId, e]));
      expect(errors.get('bad')?.status).to.equal(404);
      expect(errors.get('bad')?.message).to.match(/Server not found/);
      expect(errors.get('missingJob')?.message).to.match(/No backup job Nope/);
    });
  });

  describe('query(): status table and summary (from /api/dashboard)', () => {
    it('latest status: one row per job with server, job, status, last run, next expected, overdue', async () => {
      const res = await run([{ queryType: 'status', scope: 'all' }]);
      const frame = res.data[0] as DataFrame;
      expect(frame.length).to.equal(4);
      const rows = Array.from({ length: frame.length }, (_, i) =>
        Object.fromEntries(frame.fields.map((f) => [f.name, f.values[i]]))
      );
      const byJob = new Map(rows.map((r) => [r.job as string, r]));
      expect(byJob.get('Documents')).to.include({
        server: 'NAS-HOME',
        status: 'Success',
        overdue: false,
        lastRun: at(2).getTime(),
      });
      expect(byJob.get('Photos')).to.include({ status: 'Error', lastRun: at(6).getTime() });
      expect(byJob.get('Databases')).to.include({ server: 'DB-PROD-01', status: 'Warning', overdue: true });
      expect(byJob.get('Local files')).to.include({ server: 'WSJ-SER5', status: 'Success' });
      expect(field(frame, 'lastRun').type).to.equal(FieldType.time);
      expect(field(frame, 'nextExpected').type).to.equal(FieldType.time);
      expect(byJob.get('Databases')!.nextExpected as number).to.be.lessThan(NOW);
      expect(field(frame, 'overdue').type).to.equal(FieldType.boolean);
    });

    it('only overdue jobs (the overdue list)', async () => {
      const res = await run([{ queryType: 'status', scope: 'all', onlyOverdue: true }]);
      const frame = res.data[0] as DataFrame;
      expect(field(frame, 'job').values).to.deep.equal(['Databases']);
      expect(field(frame, 'overdue').values).to.deep.equal([true]);
    });

    it('latest status of one server only', async () => {
      const res = await run([{ queryType: 'status', scope: 'server', serverId: NAS.machineId }]);
      expect(field(res.data[0] as DataFrame, 'job').values).to.have.members(['Documents', 'Photos']);
    });

    it('summary: jobs by latest status, overdue, runs and success rate in range (percent)', async () => {
      const res = await run([{ queryType: 'summary', scope: 'all' }]);
      const frame = res.data[0] as DataFrame;
      const v = (name: string) => field(frame, name).values[0];
      expect({
        servers: v('servers'),
        jobs: v('jobs'),
        success: v('success'),
        warning: v('warning'),
        failed: v('failed'),
      }).to.deep.equal({
        servers: 3,
        jobs: 4,
        success: 2,
        warning: 1,
        failed: 1,
      });
      expect(v('overdue')).to.be.at.least(1);
      expect(v('runs')).to.equal(inRange.length);
      expect(v('failedRuns')).to.equal(2);
      expect(v('successRate')).to.be.closeTo((4 / 6) * 100, 0.01);
      expect(field(frame, 'successRate').config.unit).to.equal('percent');
    });
  });

  describe('annotations', () => {
    it('default annotation query: failed runs (as regions) and open overdue episodes', async () => {
      const defaults = ds.annotations!.getDefaultQuery!();
      const res = await run([{ ...defaults, refId: 'Anno' }]);
      const frame = res.data[0] as DataFrame;
      expect(frame.fields.slice(0, 5).map((f) => f.name)).to.deep.equal(['time', 'timeEnd', 'title', 'text', 'tags']);
      const events = Array.from({ length: frame.length }, (_, i) =>
        Object.fromEntries(frame.fields.map((f) => [f.name, f.values[i]]))
      );
      const failed = events.filter((e) => e.kind === 'failed');
      expect(failed.map((e) => e.time).sort()).to.deep.equal([at(30).getTime(), at(6).getTime()].sort());
      const fatal = failed.find((e) => e.time === at(30).getTime())!;
      expect(fatal.timeEnd).to.equal(at(30).getTime() + 60_000);
      expect(fatal.title).to.equal('Backup fatal: NAS-HOME / Photos');
      expect(fatal.tags).to.deep.equal(['duplistatus', 'failed', 'fatal']);
      const overdue = events.filter((e) => e.kind === 'overdue');
      expect(overdue.map((e) => e.job)).to.include('Databases');
      const db = overdue.find((e) => e.job === 'Databases')!;
      expect(db.time as number).to.be.within(at(200).getTime(), NOW);
      expect(db.timeEnd as number).to.be.at.least(NOW);
      // Sorted by time for the annotation layer.
      const times = field(frame, 'time').values as number[];
      expect([...times].sort((a, b) => a - b)).to.deep.equal(times);
    });

    it('warnings on request, over a longer range, for one job', async () => {
      const res = await run(
        [{ queryType: 'events', scope: 'job', serverId: DB.machineId, backupName: 'Databases', events: ['warning'] }],
        HOUR,
        NOW - 10 * DAY,
        NOW
      );
      const frame = res.data[0] as DataFrame;
      expect(frame.length).to.equal(1);
      expect(field(frame, 'time').values[0]).to.equal(at(200).getTime());
      expect(field(frame, 'tags').values[0]).to.deep.equal(['duplistatus', 'warning', 'warning']);
    });
  });

  describe('metricFindQuery and the variable support', () => {
    const texts = (values: MetricFindValue[]) => values.map((v) => v.text);

    it('servers: text is the name (or alias), value the id', async () => {
      const values = await ds.metricFindQuery('servers');
      expect(values).to.deep.include({ text: 'NAS-HOME', value: NAS.machineId });
      expect(texts(values).sort()).to.deep.equal(['DB-PROD-01', 'NAS-HOME', 'WSJ-SER5']);
    });

    it('jobs, jobs(<id>), jobs($server)', async () => {
      expect(texts(await ds.metricFindQuery('jobs'))).to.deep.equal([
        'Databases',
        'Documents',
        'Local files',
        'Photos',
      ]);
      expect(texts(await ds.metricFindQuery(`jobs(${NAS.machineId})`))).to.deep.equal(['Documents', 'Photos']);
      useVariables({ server: [DB.machineId, WSJ.machineId] });
      expect(texts(await ds.metricFindQuery('jobs($server)'))).to.deep.equal(['Databases', 'Local files']);
    });

    it('the variable editor model through CustomVariableSupport.query', async () => {
      const variables = ds.variables as unknown as {
        query(r: ReturnType<typeof request>): import('rxjs').Observable<{ data: MetricFindValue[] }>;
      };
      const target: VariableQuery = { refId: 'var', type: 'jobs', serverId: WSJ.machineId };
      const res = await lastValueFrom(variables.query(request([target as unknown as DuplistatusQuery], FROM, TO)));
      expect(res.data).to.deep.equal([{ text: 'Local files', value: 'Local files' }]);
    });
  });

  describe('the data proxy route', () => {
    it('every request goes under /api with the token from secureJsonData as a Bearer header', async () => {
      const log: Array<{ url: string; headers: Record<string, string> }> = [];
      useProxy(server.url, readToken, log);
      await run([{ queryType: 'summary' }]);
      expect(log.length).to.be.greaterThan(0);
      for (const entry of log) {
        expect(entry.url.startsWith(`${server.url}/api/`)).to.equal(true);
        expect(entry.headers.Authorization).to.equal(`Bearer ${readToken}`);
      }
    });
  });

  describe('the provisioned dashboards', () => {
    const dir = path.join(REPO_ROOT, 'provisioning', 'dashboards', 'duplistatus');
    const dashboards = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

    interface Dashboard {
      panels: Array<{ title: string; targets?: DuplistatusQuery[] }>;
      annotations: { list: Array<{ name: string; target?: DuplistatusQuery; builtIn?: number }> };
      templating: { list: Array<{ name: string; query: VariableQuery }> };
    }

    it('exist', () => {
      expect(dashboards).to.include.members(['overview.json', 'server.json']);
    });

    for (const file of dashboards) {
      it(`${file}: every variable, panel query and annotation query runs without error and returns data`, async () => {
        const dashboard = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Dashboard;
        // Variables first, as Grafana resolves them: the first server, then all jobs of it ("All").
        const vars: Record<string, string | string[]> = {};
        const variables = ds.variables as unknown as {
          query(r: ReturnType<typeof request>): import('rxjs').Observable<{ data: MetricFindValue[] }>;
        };
        for (const v of dashboard.templating.list) {
          useVariables(vars);
          const res = await lastValueFrom(variables.query(request([v.query as unknown as DuplistatusQuery], FROM, TO)));
          expect(res.data.length, `variable ${v.name}`).to.be.greaterThan(0);
          const values = res.data.map((x) => String(x.value));
          vars[v.name] = v.name === 'server' ? NAS.machineId : values;
          if (v.name === 'server') {
            expect(values).to.include(NAS.machineId);
          }
        }
        useVariables(vars);
        const queries = [
          ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ what: `panel "${p.title}"`, t }))),
          ...dashboard.annotations.list
            .filter((a) => !a.builtIn && a.target)
            .map((a) => ({ what: `annotation "${a.name}"`, t: a.target! })),
        ];
        expect(queries.length).to.be.greaterThan(3);
        for (const { what, t } of queries) {
          const res = await run([t]);
          expect(res.errors, `${what}: ${JSON.stringify(res.errors)}`).to.equal(undefined);
          expect(res.data.length, what).to.be.greaterThan(0);
          const rows = (res.data as DataFrame[]).reduce((n, f) => n + f.length, 0);
          // The seed has data for every panel; an annotation layer may rightly be empty (no warnings on this server).
          if (what.startsWith('panel')) {
            expect(rows, `${what} returned no rows`).to.be.greaterThan(0);
          }
        }
      });
    }
  });

  describe('testDatasource()', () => {
    it('success: names the token and its scope, counts the servers', async () => {
      const res = await ds.testDatasource();
      expect(res.status, res.message).to.equal('success');
      expect(res.message).to.contain('token "grafana" (read scope)').and.contain('3 server(s)');
    });

    it('401: a wrong token, and no token at all', async () => {
      useProxy(server.url, 'not-a-real-token');
      const wrong = await ds.testDatasource();
      expect(wrong.status).to.equal('error');
      expect(wrong.message).to.match(/rejected the API token \(401\)/);
      useProxy(server.url, undefined);
      const none = await ds.testDatasource();
      expect(none.status).to.equal('error');
      expect(none.message).to.match(/\(401\)/);
    });

    it('403: a token whose scope cannot read', async () => {
      useProxy(server.url, uploadToken);
      const res = await ds.testDatasource();
      expect(res.status).to.equal('error');
      expect(res.message).to.match(/wrong scope \(403\)/);
    });

    it('unreachable: nothing listens at the URL', async () => {
      useProxy(`http://127.0.0.1:${await freePort()}`, readToken);
      const res = await ds.testDatasource();
      expect(res.status).to.equal('error');
      expect(res.message).to.match(/^Cannot reach duplistatus/);
    });

    it('not a duplistatus server: another web service at the URL', async () => {
      const other = http.createServer((req, res) => {
        if (req.url?.startsWith('/api/health')) {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html><body>Welcome to nginx</body></html>');
          return;
        }
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end('<html>404</html>');
      });
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      try {
        const port = (other.address() as { port: number }).port;
        useProxy(`http://127.0.0.1:${port}`, readToken);
        const res = await ds.testDatasource();
        expect(res.status).to.equal('error');
        expect(res.message).to.match(/not like a duplistatus server/);
      } finally {
        await new Promise((resolve) => other.close(resolve));
      }
    });
  });
});
