import { z } from "zod";
import { FullServerSchema } from "../dashboard/schemas";

/** Request and response schemas of server management (reference §2.4). */

export const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });

export const URL_MAX = 2048;
export const ALIAS_MAX = 200;
export const NOTE_MAX = 4000;

export const ServerIdParam = z.object({ id: z.string().min(1).describe("Server id (Duplicati machine-id)") });

const flag = z.string().optional().describe('"true" to enable');
export const isTrue = (v: string | undefined): boolean => v === "true" || v === "1";

export const ListQuery = z.object({ includeBackups: flag.describe('"true": one row per server × backup job') });

export const ServerListItemSchema = z.object({ id: z.string(), name: z.string(), alias: z.string(), note: z.string() });
export const ServerJobItemSchema = ServerListItemSchema.extend({
  backupName: z.string(),
  server_url: z.string(),
  hasPassword: z.boolean(),
});
export const ServerListResponse = z.union([z.array(ServerListItemSchema), z.array(ServerJobItemSchema)]);

export const ServerBasicSchema = z.object({
  id: z.string(),
  name: z.string(),
  alias: z.string(),
  note: z.string(),
  server_url: z.string(),
  hasPassword: z.boolean(),
  created_at: z.string(),
});
export const ServerGetResponse = z.union([FullServerSchema, ServerBasicSchema]);

export const ServerPatchBody = z.object({
  server_url: z.string().max(URL_MAX).optional().describe('Duplicati UI address: http(s) URL, or "" to clear'),
  alias: z.string().max(ALIAS_MAX).optional(),
  note: z.string().max(NOTE_MAX).optional(),
});

export const ServerUpdatedResponse = z.object({
  message: z.literal("Server updated successfully"),
  serverId: z.string(),
  server_url: z.string(),
  alias: z.string(),
  note: z.string(),
});

export const ServerDeletedResponse = z.object({
  message: z.string(),
  status: z.literal(200),
  changes: z.object({ backupChanges: z.number().int(), serverChanges: z.number().int() }),
});

export const DuplicatesResponse = z.array(
  z.object({
    name: z.string(),
    servers: z.array(
      z.object({
        id: z.string(),
        created_at: z.string(),
        alias: z.string(),
        note: z.string(),
        server_url: z.string(),
        backupCount: z.number().int(),
        lastBackupDate: z.string().nullable(),
      }),
    ),
  }),
);

export const MergeBody = z.object({
  oldServerIds: z
    .array(z.string().min(1))
    .max(1000)
    .optional()
    .describe("Servers merged into the target, then deleted"),
  targetServerId: z.string().optional().describe("The server that remains"),
});

export const MergeResponse = z.object({
  success: z.literal(true),
  message: z.string(),
  backupIdsNormalized: z.number().int(),
  runsMoved: z.number().int(),
  duplicateRunsDropped: z.number().int(),
});

export const ServerUrlResponse = z.object({ serverId: z.string(), server_url: z.string() });
export const ServerUrlBody = z.object({ server_url: z.string().max(URL_MAX).describe('http(s) URL, or "" to clear') });
export const ServerUrlUpdatedResponse = z.object({
  message: z.literal("Server URL updated successfully"),
  serverId: z.string(),
  serverName: z.string(),
  server_url: z.string(),
});
