import { CustomVariableSupport, DataQueryRequest, DataQueryResponse } from '@grafana/data';
import { from, map, Observable } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { DataSource } from './datasource';
import type { VariableQuery } from './types';

/**
 * Query variables (servers, jobs of a server) with our own editor. The values come from metricFindQuery, which
 * also serves dashboards that still store the query as text (`servers`, `jobs($server)`).
 */
export class DuplistatusVariableSupport extends CustomVariableSupport<DataSource, VariableQuery> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<VariableQuery>): Observable<DataQueryResponse> {
    const [target] = request.targets;
    return from(this.datasource.metricFindQuery(target ?? 'servers', { scopedVars: request.scopedVars })).pipe(
      map((values) => ({ data: values }))
    );
  }
}
