import type { CoreModule } from "../context";
import { serverRoutes } from "./routes";

/** Server management: list, view, edit, delete, duplicates and merge. */
export const serversModule: CoreModule = {
  name: "servers",
  routes: (ctx) => serverRoutes(ctx),
};
