import fs from "node:fs";
import path from "node:path";
import type { CoreModule } from "../context";
import { maintenanceRoutes } from "./routes";

/**
 * Scratch files a crash may have left in DATA_DIR/temp (downloads being prepared, uploads being checked). Nothing
 * is in flight at start-up, so they can go.
 */
function removeLeftovers(dataDir: string): void {
  const dir = path.join(dataDir, "temp");
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (/^(backup|restore|upload)-/.test(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Database maintenance: backup, restore, retention cleanup, job deletion (all admin-only). */
export const maintenanceModule: CoreModule = {
  name: "maintenance",
  routes: (ctx) => maintenanceRoutes(ctx),
  start: (ctx) => removeLeftovers(ctx.config.dataDir),
};
