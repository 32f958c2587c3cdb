import { z } from "zod";
import { requestActor } from "../audit/request-actor";
import type { AppContext } from "../context";
import { HttpError, notFound } from "../core/errors";
import { defineRoute, type RouteDef } from "../http/route";
import type { TaskRegistry } from "./task-registry";

const TAGS = ["cron"];
const ErrorBody = z.looseObject({ error: z.string(), message: z.string().optional() });
const Message = z.object({ message: z.string() });
const TaskParam = z.object({
  taskName: z.string().min(1).max(100).describe("overdue-backup-check, audit-log-cleanup or collect-backups"),
});
const userAccess = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Token scope does not allow this", schema: ErrorBody },
};
const adminAccess = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Not an administrator, or CSRF token missing", schema: ErrorBody },
};

const HealthBody = z.object({
  isRunning: z.literal(true),
  activeTasks: z.array(z.string()),
  lastRunTimes: z.record(z.string(), z.string()),
  errors: z.record(z.string(), z.string()),
});

const TriggerBody = z.object({
  taskName: z.string(),
  success: z.boolean(),
  message: z.string().optional(),
  error: z.string().optional(),
  statistics: z.record(z.string(), z.number()).optional(),
});

/**
 * The original's cron service routes (reference §2.5), reached there through the /api/cron/* proxy. Here the tasks
 * run in process, so the same paths are served directly.
 */
export function cronRoutes(ctx: AppContext, registry: TaskRegistry): RouteDef[] {
  const taskOr404 = (name: string, error: string) => {
    const task = registry.get(name);
    if (!task) throw notFound(error, { message: `Known tasks: ${registry.names().join(", ")}` });
    return task;
  };
  const audit = async (kctx: Parameters<RouteDef["handler"]>[0], action: string, details: Record<string, unknown>) =>
    ctx.audit.record({ ...(await requestActor(ctx.access, kctx)), action, category: "system", details });

  return [
    defineRoute({
      method: "get",
      path: "/api/cron/health",
      access: "user",
      summary: "The scheduled tasks: which are active, when each last ran, and the error of its last run",
      tags: TAGS,
      responses: { 200: { description: "Task status", schema: HealthBody }, ...userAccess },
      handler: async () => ({ body: registry.health() }),
    }),
    defineRoute({
      method: "post",
      path: "/api/cron/trigger/:taskName",
      access: "admin",
      summary: "Run a task now",
      description:
        "A task that fails answers 200 with success false and the error (as the original). overdue-backup-check " +
        "answers the check's statistics; audit-log-cleanup the number of entries deleted.",
      tags: TAGS,
      params: TaskParam,
      bodyParser: "none",
      responses: {
        200: { description: "Run result", schema: TriggerBody },
        404: { description: "No such task", schema: ErrorBody },
        ...adminAccess,
      },
      handler: async (kctx, { params }) => {
        const task = taskOr404(params.taskName, `Task ${params.taskName} not found`);
        const actor = await requestActor(ctx.access, kctx);
        const result = await registry.trigger(task, actor);
        await audit(kctx, "cron_task_triggered", { taskName: task.name, success: result.success });
        return { body: result };
      },
    }),
    defineRoute({
      method: "post",
      path: "/api/cron/start/:taskName",
      access: "admin",
      summary: "Schedule a task again from its configuration",
      tags: TAGS,
      params: TaskParam,
      bodyParser: "none",
      responses: {
        200: { description: "Started", schema: Message },
        404: { description: "No such task", schema: ErrorBody },
        409: { description: "The task's configuration has it off", schema: ErrorBody },
        ...adminAccess,
      },
      handler: async (kctx, { params }) => {
        const task = taskOr404(params.taskName, `Task ${params.taskName} not found in configuration`);
        if (!(await task.start())) {
          throw new HttpError(409, {
            error: `Task ${task.name} is turned off in its configuration`,
            ...(task.offHint ? { message: task.offHint } : {}),
          });
        }
        await audit(kctx, "cron_task_started", { taskName: task.name });
        return { body: { message: `Task ${task.name} started` } };
      },
    }),
    defineRoute({
      method: "post",
      path: "/api/cron/stop/:taskName",
      access: "admin",
      summary: "Unschedule a task until it is started again, the configuration is reloaded or the server restarts",
      tags: TAGS,
      params: TaskParam,
      bodyParser: "none",
      responses: {
        200: { description: "Stopped (also when it was not running)", schema: Message },
        404: { description: "No such task", schema: ErrorBody },
        ...adminAccess,
      },
      handler: async (kctx, { params }) => {
        const task = taskOr404(params.taskName, `Task ${params.taskName} not found`);
        task.stop();
        await audit(kctx, "cron_task_stopped", { taskName: task.name });
        return { body: { message: `Task ${task.name} stopped` } };
      },
    }),
    defineRoute({
      method: "post",
      path: "/api/cron/reload-config",
      access: "admin",
      summary: "Stop every task and schedule each again from its configuration",
      tags: TAGS,
      bodyParser: "none",
      responses: { 200: { description: "Reloaded", schema: Message }, ...adminAccess },
      handler: async (kctx) => {
        await registry.reload();
        await audit(kctx, "cron_config_reloaded", { tasks: registry.health().activeTasks });
        return { body: { message: "Configuration reloaded successfully" } };
      },
    }),
  ];
}
