import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import type { PluginHost } from "../core/plugin-host";
import type { Logger } from "../core/logger";
import { type PluginDefinition, type PluginFactoryApi, definePlugin } from "./api";

/**
 * User plugins: every module in the plugins folder (PLUGINS_DIR, default DATA_DIR/plugins) —
 * - a file `<name>.js`, `<name>.cjs` or `<name>.mjs`, or
 * - a folder `<name>/` with a package.json ("main", "type") or an index.js / index.cjs / index.mjs.
 * Names starting with "." or "_" are skipped. A module exports (default or module.exports) a plugin definition, or a
 * factory `(api) => definition` that receives definePlugin, zod and the version.
 *
 * CommonJS modules are loaded with require(); a reload first removes every cached module under the plugin's file or
 * folder, so the whole plugin is evaluated again. ES modules (.mjs, or .js under "type": "module") are imported with a
 * fresh query string on each reload: the entry module is evaluated again, the modules it imports are not.
 */

const EXTENSIONS = [".js", ".cjs", ".mjs"];

interface ModuleRef {
  /** The file or folder in the plugins folder. */
  root: string;
  /** The file to load. */
  entry: string;
  esm: boolean;
  /** File or folder name without extension: the plugin's name when it cannot be loaded. */
  stem: string;
}

function packageType(dir: string): string | undefined {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { type?: unknown };
    return typeof pkg.type === "string" ? pkg.type : undefined;
  } catch {
    return undefined;
  }
}

function isEsm(file: string, pluginsDir: string, folder: string | null): boolean {
  if (file.endsWith(".mjs")) return true;
  if (file.endsWith(".cjs")) return false;
  const type = (folder ? packageType(folder) : undefined) ?? packageType(pluginsDir);
  return type === "module";
}

/** The plugin modules in the folder, sorted by name. Missing folder: none. */
export function findPluginModules(pluginsDir: string): ModuleRef[] {
  let names: string[];
  try {
    names = fs.readdirSync(pluginsDir).sort();
  } catch {
    return [];
  }
  const out: ModuleRef[] = [];
  for (const name of names) {
    if (name.startsWith(".") || name.startsWith("_") || name === "node_modules" || name === "package.json") continue;
    const full = path.join(pluginsDir, name);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(full);
    } catch {
      continue;
    }
    if (stat.isFile()) {
      const ext = path.extname(name);
      if (!EXTENSIONS.includes(ext)) continue;
      out.push({ root: full, entry: full, esm: isEsm(full, pluginsDir, null), stem: path.basename(name, ext) });
    } else if (stat.isDirectory()) {
      let entry: string | undefined;
      try {
        const pkg = JSON.parse(fs.readFileSync(path.join(full, "package.json"), "utf8")) as { main?: unknown };
        if (typeof pkg.main === "string") entry = path.resolve(full, pkg.main);
      } catch {
        // no package.json: look for an index file
      }
      entry ??= EXTENSIONS.map((ext) => path.join(full, `index${ext}`)).find((f) => fs.existsSync(f));
      if (!entry) continue;
      out.push({ root: full, entry, esm: isEsm(entry, pluginsDir, full), stem: name });
    }
  }
  return out;
}

let generation = 0;

/** Drops every cached CommonJS module under `root` (the plugin's file or folder). */
function forgetCommonJs(root: string): void {
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  for (const key of Object.keys(require.cache)) {
    if (key === root || key.startsWith(prefix)) delete require.cache[key];
  }
}

/** Imports the module afresh and returns its plugin definition. */
async function importDefinition(ref: ModuleRef, version: string): Promise<PluginDefinition<unknown>> {
  let exported: unknown;
  if (ref.esm) {
    generation += 1;
    const ns = (await import(`${pathToFileURL(ref.entry).href}?v=${Date.now()}-${generation}`)) as {
      default?: unknown;
    };
    exported = ns.default ?? ns;
  } else {
    forgetCommonJs(ref.root);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(ref.entry) as { default?: unknown; __esModule?: boolean };
    exported = mod && typeof mod === "object" && "default" in mod && mod.default !== undefined ? mod.default : mod;
  }
  if (typeof exported === "function") {
    const api: PluginFactoryApi = { definePlugin, z, version };
    exported = await (exported as (api: PluginFactoryApi) => unknown)(api);
  }
  return exported as PluginDefinition<unknown>;
}

/**
 * Loads the user plugins found in the folder into the host. With `onlyNew`, modules the host already has are
 * skipped (the rescan). A module that cannot be loaded is listed as failed under its file name. Returns the names
 * added.
 */
export function loadUserPlugins(
  host: PluginHost,
  options: { pluginsDir: string; version: string; log: Logger; onlyNew?: boolean },
): Promise<string[]> {
  // One load at a time per host: two rescans at once must not both add the same module.
  const run = (loading.get(host) ?? Promise.resolve()).then(() => loadNow(host, options));
  loading.set(
    host,
    run.catch(() => undefined),
  );
  return run;
}

const loading = new WeakMap<PluginHost, Promise<unknown>>();

async function loadNow(
  host: PluginHost,
  options: { pluginsDir: string; version: string; log: Logger; onlyNew?: boolean },
): Promise<string[]> {
  const known = host.userFiles();
  const added: string[] = [];
  for (const ref of findPluginModules(options.pluginsDir)) {
    if (options.onlyNew && known.has(ref.root)) continue;
    const reimport = () => importDefinition(ref, options.version);
    try {
      const def = await reimport();
      const info = await host.add(def, { source: "user", file: ref.root, reimport });
      added.push(info.name);
      options.log.info({ plugin: info.name, file: path.basename(ref.root) }, "user plugin loaded");
    } catch (err) {
      const error = `load failed: ${err instanceof Error ? err.message : String(err)}`;
      options.log.error({ err, file: path.basename(ref.root) }, "user plugin could not be loaded");
      const base = ref.stem.toLowerCase().replace(/[^a-z0-9._-]/g, "-");
      let name = base;
      for (let i = 2; host.has(name); i++) name = `${base}-${i}`;
      await host.addLoadFailure(name, error, { source: "user", file: ref.root, reimport });
      added.push(name);
    }
  }
  return added;
}
