import type { CoreModule } from "../context";
import { tokenRoutes } from "./token-routes";

/** API tokens and the "require keys" setting. */
export const tokensModule: CoreModule = {
  name: "tokens",
  routes: (ctx) => tokenRoutes(ctx),
};
