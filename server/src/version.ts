import fs from "node:fs";
import path from "node:path";

/**
 * The version in the root package.json: two folders up from server/src when run from the TypeScript sources (tsx,
 * tests), three from dist/server/src when run compiled (`npm start`, the Docker image).
 */
function readVersion(): string {
  for (const root of [path.join(__dirname, "..", ".."), path.join(__dirname, "..", "..", "..")]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "duplistatus") return pkg.version ?? "0.0.0";
    } catch {
      // not there: try the next folder up
    }
  }
  return "0.0.0";
}

export const VERSION = readVersion();
