import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { REPO_ROOT } from "./reports";

/**
 * The benchmarks start the server exactly as `npm start` does: they run the `prestart` script (the incremental
 * `tsc -b` build to dist/, a no-op when nothing changed) and then `node` with the arguments of the `start` script
 * (compiled JavaScript, with the same node flags). What they measure is what `npm start` and the Docker image run,
 * not the TypeScript sources through tsx (tsx adds ~50 MB of resident memory of its own).
 */

interface Scripts {
  start?: string;
  prestart?: string;
}

function scripts(): Scripts {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts?: Scripts };
  return pkg.scripts ?? {};
}

let built = false;

/** Runs `npm run prestart` once per benchmark process (builds dist/ when it is missing or older than the sources). */
export function buildServer(): void {
  if (built) return;
  if (scripts().prestart) {
    execFileSync("npm", ["run", "--silent", "prestart"], { cwd: REPO_ROOT, stdio: ["ignore", "inherit", "inherit"] });
  }
  built = true;
}

/**
 * The node arguments of the `start` script, e.g. ["--max-old-space-size=512", "dist/server/src/main.js"]:
 * spawn(process.execPath, serverArgs(), { cwd: REPO_ROOT }) is `npm start` without npm in between (so the child's
 * pid is the server's, for its memory and CPU figures). Builds first.
 */
export function serverArgs(): string[] {
  const start = scripts().start ?? "";
  const words = start.trim().split(/\s+/);
  if (words[0] !== "node" || words.length < 2 || words.some((w) => /["'$`|&;<>]/.test(w))) {
    throw new Error(`package.json "start" must be a plain "node [flags] <file>" command to be benchmarked: ${start}`);
  }
  buildServer();
  return words.slice(1);
}

/** The node flags of the `start` script (everything before the script file). */
export function startNodeFlags(): string[] {
  return serverArgs().slice(0, -1);
}

/**
 * A benchmark helper server (bench/echo-server.ts) compiled the way the server is (tsconfig.build.json's compiler
 * options, CommonJS) into dist/bench/, and its node arguments with the `start` script's flags: the echo baseline runs
 * as compiled JavaScript under the same flags as the server it is compared with. Returns the arguments for spawn.
 */
export function compiledHelperArgs(relativeTs: string): string[] {
  const configFile = path.join(REPO_ROOT, "tsconfig.build.json");
  const read = ts.readConfigFile(configFile, (f) => ts.sys.readFile(f));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, "\n"));
  const { options } = ts.parseJsonConfigFileContent(read.config, ts.sys, REPO_ROOT, undefined, configFile);
  const source = fs.readFileSync(path.join(REPO_ROOT, relativeTs), "utf8");
  const { outputText } = ts.transpileModule(source, {
    // CommonJS, as tsc emits for the server (this package has no "type": "module").
    compilerOptions: {
      ...options,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      noEmit: false,
      incremental: false,
    },
    fileName: relativeTs,
  });
  const out = path.join(REPO_ROOT, "dist", relativeTs.replace(/\.ts$/, ".js"));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, outputText);
  return [...startNodeFlags(), path.relative(REPO_ROOT, out)];
}
