import type { CoreModule } from "../context";
import { authRoutes } from "./auth-routes";
import { bootstrapAdmin } from "./bootstrap-admin";
import { passwordPolicy } from "./password-policy";
import { passwordRoutes } from "./password-routes";
import { sessionRoutes } from "./session-routes";
import { UserService } from "./user-service";
import { userRoutes } from "./user-routes";

/** Users, sessions, login and passwords. */
export const authModule: CoreModule = {
  name: "auth",
  routes: (ctx) => {
    const users = new UserService({
      db: ctx.db,
      clock: ctx.clock,
      audit: ctx.audit,
      policy: passwordPolicy(ctx.config),
    });
    return [...authRoutes(ctx), ...passwordRoutes(ctx, users), ...sessionRoutes(ctx), ...userRoutes(ctx, users)];
  },
  start: (ctx) => bootstrapAdmin(ctx),
};
