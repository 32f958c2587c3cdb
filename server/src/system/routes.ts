import { z } from "zod";
import { defineRoute, type RouteDef } from "../http/route";
import type { HealthService } from "./health-service";

const HealthBody = z.looseObject({ status: z.enum(["healthy", "degraded", "unhealthy"]), timestamp: z.string() });

export function systemRoutes(health: HealthService, openApi: () => Record<string, unknown>): RouteDef[] {
  return [
    defineRoute({
      method: "get",
      path: "/api/health",
      access: "public",
      summary: "Database health (for container health checks)",
      tags: ["external"],
      noCache: true,
      responses: {
        200: { description: "Healthy", schema: HealthBody },
        503: { description: "Degraded or unhealthy", schema: HealthBody },
      },
      handler: async () => {
        const report = await health.check();
        return { status: report.healthy ? 200 : 503, body: report.body };
      },
    }),
    defineRoute({
      method: "get",
      path: "/api/ping",
      access: "public",
      summary: "Liveness probe",
      tags: ["external"],
      noCache: true,
      responses: { 200: { description: "Alive", schema: z.object({ ok: z.literal(true) }) } },
      handler: async () => ({ body: { ok: true } }),
    }),
    defineRoute({
      method: "get",
      path: "/api/openapi.json",
      access: "public",
      summary: "This API as an OpenAPI 3.1 document",
      tags: ["meta"],
      responses: { 200: { description: "OpenAPI document", schema: z.looseObject({ openapi: z.string() }) } },
      handler: async () => ({ body: openApi() }),
    }),
  ];
}
