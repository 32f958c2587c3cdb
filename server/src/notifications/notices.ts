import type { EventName } from "../core/events";
import type { PluginContext } from "../core/plugin-host";
import type { ResolvedNotificationPrefs } from "../monitoring/settings-service";
import { eventMatches } from "../monitoring/settings-types";
import type { NotificationPluginServices, RenderInput } from "./plugin-services";
import type { RenderedNotification, ServerDetails } from "./templates";

/**
 * What both notification plugins share: turning the domain events into notices and deciding, from the job's
 * preferences, which destinations a notice may go to (reference §6.1, §6.2). Each plugin then applies its own
 * channel switch (ntfyEnabled / emailEnabled) and sends. Only types and pure helpers are imported here; everything
 * else comes through the plugin context's services.
 */

export type NoticeEvent = Extract<EventName, "backupReceived" | "backupOverdue" | "overdueCleared">;

export interface Notice {
  event: NoticeEvent;
  serverId: string;
  backupName: string;
  prefs: ResolvedNotificationPrefs;
  /** The standard channel (global topic / mailto) passes the event filter. */
  standard: boolean;
  /** The additional destinations (job or server defaults) pass their event filter. */
  additional: boolean;
  /** The rendered template (rendered once, on first use). */
  render(): Promise<RenderedNotification>;
}

/**
 * Who a notice may go to.
 * - A new run: each destination by its own event filter (notificationEvent for the standard channel,
 *   additionalNotificationEvent for the additional ones): off / all / warnings / errors.
 * - Overdue, and its "back on schedule" counterpart: the standard channel always (the original ignores
 *   notificationEvent for overdue notices), the additional destinations unless their filter is "off". A cleared
 *   notice follows the same rule as the overdue notice it answers, so whoever was told "overdue" is told "cleared".
 */
export function destinations(
  event: NoticeEvent,
  prefs: Pick<ResolvedNotificationPrefs, "notificationEvent" | "additionalNotificationEvent">,
  run?: { status: string; errors: number },
): { standard: boolean; additional: boolean } {
  if (event === "backupReceived") {
    const status = run?.status ?? "Unknown";
    const errors = run?.errors ?? 0;
    return {
      standard: eventMatches(prefs.notificationEvent, status, errors),
      additional: eventMatches(prefs.additionalNotificationEvent, status, errors),
    };
  }
  return { standard: true, additional: prefs.additionalNotificationEvent !== "off" };
}

/** Splits the comma-separated additional addresses, keeping those with an "@", without duplicates. */
export function addressList(value: string | readonly string[]): string[] {
  const parts = typeof value === "string" ? value.split(",") : value;
  return [...new Set(parts.map((p) => p.trim()).filter((p) => p.includes("@")))];
}

/**
 * Subscribes `handle` to the three events. Late re-sent runs (isLatest false) notify nobody. The handler runs on
 * the event bus, after the upload (or the overdue check) has committed and answered, and its errors are the
 * plugin's own: it must catch and audit them.
 */
export function onNotices(
  ctx: PluginContext<unknown, NotificationPluginServices>,
  handle: (n: Notice) => Promise<void>,
): void {
  const { services } = ctx;

  const serverDetails = async (ref: { id: string; name: string; alias: string }): Promise<ServerDetails> =>
    (await services.servers.get(ref.id)) ?? { id: ref.id, name: ref.name, alias: ref.alias, note: "", url: "" };

  const notice = async (
    event: NoticeEvent,
    ref: { id: string; name: string; alias: string },
    backupName: string,
    input: (server: ServerDetails) => RenderInput,
    run?: { status: string; errors: number },
  ): Promise<Notice> => {
    const prefs = await services.monitoring.resolvedPrefs(ref.id, backupName);
    let rendered: Promise<RenderedNotification> | undefined;
    return {
      event,
      serverId: ref.id,
      backupName,
      prefs,
      ...destinations(event, prefs, run),
      render: () => (rendered ??= serverDetails(ref).then((server) => services.templates.render(input(server)))),
    };
  };

  ctx.on("backupReceived", async (e) => {
    if (!e.isLatest) return;
    await handle(
      await notice(
        "backupReceived",
        e.server,
        e.job.backupName,
        (server) => ({ kind: "backup", server, run: e.run }),
        e.run,
      ),
    );
  });
  ctx.on("backupOverdue", async (e) => {
    await handle(
      await notice("backupOverdue", e.server, e.job.backupName, (server) => ({ kind: "overdue", server, event: e })),
    );
  });
  ctx.on("overdueCleared", async (e) => {
    await handle(
      await notice("overdueCleared", e.server, e.job.backupName, (server) => ({ kind: "cleared", server, event: e })),
    );
  });
}

/** Audit target and details common to every send. */
export function auditBase(n: Notice, rendered: RenderedNotification | null) {
  return {
    username: "system",
    category: "system" as const,
    targetType: "backup",
    targetId: `${n.serverId}:${n.backupName}`,
    details: { event: n.event, template: rendered?.kind ?? null, serverId: n.serverId, backupName: n.backupName },
  };
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
