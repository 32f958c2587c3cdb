import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import type { DuplistatusOptions, DuplistatusQuery } from './types';

// The variable editor is registered by DataSource itself (this.variables), the annotation support too.
export const plugin = new DataSourcePlugin<DataSource, DuplistatusQuery, DuplistatusOptions>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
