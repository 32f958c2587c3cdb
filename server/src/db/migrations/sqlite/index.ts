import { Initial1764201600000 } from "./1764201600000-Initial";
import { Security1764288000000 } from "./1764288000000-Security";
import { AuditStatusIndex1764288600000 } from "./1764288600000-AuditStatusIndex";
import { Monitoring1764374400000 } from "./1764374400000-Monitoring";
import { ChartRollups1764460800000 } from "./1764460800000-ChartRollups";
import { JobRunCounters1764554400000 } from "./1764554400000-JobRunCounters";
import { PluginSettings1764640800000 } from "./1764640800000-PluginSettings";
import { JobsLatestIndexDropped1764727200000 } from "./1764727200000-JobsLatestIndexDropped";
import { JobLatestExaminedFiles1764813600000 } from "./1764813600000-JobLatestExaminedFiles";

/** Ordered list of the SQLite migrations (explicit, so bundling or tsx never has to glob for them). */
export const SQLITE_MIGRATIONS = [
  Initial1764201600000,
  Security1764288000000,
  AuditStatusIndex1764288600000,
  Monitoring1764374400000,
  ChartRollups1764460800000,
  JobRunCounters1764554400000,
  PluginSettings1764640800000,
  JobsLatestIndexDropped1764727200000,
  JobLatestExaminedFiles1764813600000,
];
