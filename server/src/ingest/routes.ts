import { z } from "zod";
import type { RateLimiter } from "../http/rate-limit";
import { defineRoute, type RouteDef } from "../http/route";
import type { IngestService } from "./ingest-service";
import { DuplicatiReportSchema, SimpleReportSchema, UploadResponseSchema } from "./report-schema";

const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });

export function ingestRoutes(ingest: IngestService, rateLimit: RateLimiter): RouteDef[] {
  return [
    defineRoute({
      method: "post",
      path: "/api/upload",
      access: "upload",
      summary: "Receive a Duplicati backup report",
      description:
        "Point Duplicati's --send-http-url (or --send-http-json-urls) here. Accepts JSON, text/plain JSON and the form field message=<json>. One transaction per report; a report already stored (same server, job and begin time) answers 409.",
      tags: ["external"],
      bodyParser: "upload",
      rateLimit,
      bodyDoc: z.union([DuplicatiReportSchema, SimpleReportSchema]),
      internalError: { error: "Failed to process backup data" },
      responses: {
        200: { description: "Stored", schema: UploadResponseSchema },
        400: {
          description: "Invalid report (error, and missingFields / invalidFields where useful)",
          schema: ErrorBody,
        },
        401: { description: "Upload token missing or wrong (when UPLOAD_TOKEN is set)", schema: ErrorBody },
        409: { description: "Duplicate report", schema: ErrorBody },
        413: { description: "Body over the size limit", schema: ErrorBody },
        429: { description: "Too many uploads from this client (UPLOAD_RATE_LIMIT per minute)", schema: ErrorBody },
      },
      handler: async (ctx) => {
        await ingest.ingest(ctx.request.body);
        return { body: { success: true } };
      },
    }),
  ];
}
