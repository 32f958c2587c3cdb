import { z } from "zod";
import type { RouteDef } from "./route";

type JsonObject = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonObject {
  const out = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as JsonObject;
  delete out.$schema;
  return out;
}

/** `/api/servers/:id` → `/api/servers/{id}` */
export const toOpenApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

function parameters(schema: z.ZodType | undefined, location: "path" | "query"): JsonObject[] {
  if (!schema) return [];
  const js = jsonSchema(schema, "input");
  const props = (js.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((js.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: location,
    required: location === "path" ? true : required.has(name),
    schema: s,
    ...(typeof s.description === "string" ? { description: s.description } : {}),
  }));
}

/** The OpenAPI 3.1 document, assembled from the same route declarations that validate requests. */
export function buildOpenApi(routes: readonly RouteDef[], info: { version: string }): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const r of routes) {
    const path = toOpenApiPath(r.path);
    const responses: Record<string, JsonObject> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.schema
          ? { content: { [spec.contentType ?? "application/json"]: { schema: jsonSchema(spec.schema, "output") } } }
          : {}),
      };
    }
    const bodySchema = r.bodyDoc ?? r.body;
    const bodyType = r.bodyParser === "multipart" ? "multipart/form-data" : "application/json";
    const op: JsonObject = {
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: r.tags,
      operationId: `${r.method}${path.replace(/[{}]/g, "").replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
      parameters: [...parameters(r.params, "path"), ...parameters(r.query, "query")],
      ...(bodySchema
        ? { requestBody: { required: true, content: { [bodyType]: { schema: jsonSchema(bodySchema, "input") } } } }
        : {}),
      responses,
      "x-access": r.access,
      ...(r.access === "public" ? { security: [] } : {}),
    };
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "duplistatus API",
      version: info.version,
      description:
        "Backup monitor for Duplicati. External endpoints are drop-in compatible with the original duplistatus.",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        bearerToken: { type: "http", scheme: "bearer" },
        apiKeyHeader: { type: "apiKey", in: "header", name: "X-Api-Key" },
        apiKeyQuery: { type: "apiKey", in: "query", name: "api_key" },
      },
    },
    paths,
  };
}
