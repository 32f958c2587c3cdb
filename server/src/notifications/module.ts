import type { CoreModule } from "../context";
import { notificationRoutes } from "./routes";

/**
 * Notification settings (ntfy, SMTP, templates, re-notification frequency) and the test send. The sending itself
 * is done by the ntfy and e-mail plugins (registered in app.ts), which listen to the domain events.
 */
export const notificationsModule: CoreModule = {
  name: "notifications",
  routes: (ctx) => notificationRoutes(ctx),
};
