import fs from "node:fs";
import path from "node:path";
import type { CoreModule } from "../context";
import { importRoutes } from "./routes";

/** Scratch copies of imported files a crash may have left in DATA_DIR/temp (nothing is in flight at start-up). */
function removeLeftovers(dataDir: string): void {
  const dir = path.join(dataDir, "temp");
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith("import-")) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Switching from the original duplistatus: POST /api/database/import (the CLI is server/src/cli/import-duplistatus.ts). */
export const importerModule: CoreModule = {
  name: "importer",
  routes: (ctx) => importRoutes(ctx),
  start: (ctx) => removeLeftovers(ctx.config.dataDir),
};
