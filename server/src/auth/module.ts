import type { CoreModule } from "../context";
import { authRoutes } from "./auth-routes";
import { bootstrapAdmin } from "./bootstrap-admin";

/** Users, sessions and login. */
export const authModule: CoreModule = {
  name: "auth",
  routes: (ctx) => authRoutes(ctx),
  start: (ctx) => bootstrapAdmin(ctx),
};
