import { z } from "zod";
import { defineRoute, type RouteDef } from "../http/route";
import type { ReportingService } from "./reporting-service";
import {
  LastBackupResponseSchema,
  LastBackupsResponseSchema,
  ServerLookupErrorSchema,
  SummaryResponseSchema,
} from "./schemas";

const ServerParam = z.object({
  serverId: z.string().min(1).describe("Server id (Duplicati machine-id) or URL-encoded server name"),
});

const lookupResponses = {
  400: { description: "Several servers have this name", schema: ServerLookupErrorSchema },
  404: { description: "No such server", schema: ServerLookupErrorSchema },
};

export function reportingRoutes(reporting: ReportingService): RouteDef[] {
  return [
    defineRoute({
      method: "get",
      path: "/api/summary",
      access: "read",
      summary: "Overall totals (Homepage summary widget)",
      tags: ["external"],
      noCache: true,
      internalError: { error: "Failed to fetch summary data" },
      responses: { 200: { description: "Totals", schema: SummaryResponseSchema } },
      handler: async () => ({ body: await reporting.summary() }),
    }),
    defineRoute({
      method: "get",
      path: "/api/lastbackup/:serverId",
      access: "read",
      summary: "The most recent backup run of a server (any job)",
      tags: ["external"],
      params: ServerParam,
      noCache: true,
      internalError: { error: "Internal server error", status: 500 },
      responses: { 200: { description: "Latest run", schema: LastBackupResponseSchema }, ...lookupResponses },
      handler: async (_ctx, { params }) => {
        const { server, backup } = await reporting.latestBackup(params.serverId);
        return { body: { server, latest_backup: backup, status: 200 } };
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/lastbackups/:serverId",
      access: "read",
      summary: "The most recent run of each backup job of a server",
      tags: ["external"],
      params: ServerParam,
      noCache: true,
      internalError: { error: "Internal server error", status: 500 },
      responses: { 200: { description: "Latest run per job", schema: LastBackupsResponseSchema }, ...lookupResponses },
      handler: async (_ctx, { params }) => {
        const { server, backups } = await reporting.latestBackups(params.serverId);
        return {
          body: {
            server,
            latest_backups: backups,
            backup_jobs_count: backups.length,
            backup_names: backups.map((b) => b.name),
            status: 200,
          },
        };
      },
    }),
  ];
}
