import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { parse } from "yaml";

/**
 * The compose stack and Grafana provisioning, checked without Docker or Grafana (neither runs here): every file
 * the stack mounts or copies exists, names and ports agree with what the server reads, and the data source uid,
 * plugin id and dashboards agree with each other.
 */

const ROOT = path.resolve(__dirname, "..", "..");
const read = (rel: string) => readFileSync(path.join(ROOT, rel), "utf8");
const exists = (rel: string) => existsSync(path.join(ROOT, rel));

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
function obj(v: unknown, what: string): Obj {
  expect(isObj(v), `${what} is an object`).to.equal(true);
  return v as Obj;
}
function str(v: unknown, what: string): string {
  expect(v, what).to.be.a("string");
  return v as string;
}

interface Service {
  image?: string;
  build?: unknown;
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test?: unknown };
  depends_on?: Record<string, unknown>;
}

const compose = obj(parse(read("docker-compose.yml")), "docker-compose.yml");
const services = obj(compose.services, "services") as Record<string, Service>;
const declaredVolumes = Object.keys(obj(compose.volumes ?? {}, "volumes"));
const plugin = JSON.parse(read("grafana-plugin/src/plugin.json")) as { id: string; type: string; dependencies: Obj };
const pluginId = plugin.id;

/** `${VAR:-default}` / `${VAR-default}` → default; a plain value stays. */
const defaultOf = (value: string) => value.replace(/\$\{\w+:?-([^}]*)\}/g, "$1");

/** "host:container[:mode]" → parts. */
function mount(spec: string): { source: string; target: string; readOnly: boolean } {
  const [source = "", target = "", mode] = spec.split(":");
  return { source, target, readOnly: mode === "ro" };
}

function service(name: string): Service {
  const s = services[name];
  expect(s, `service ${name}`).to.not.equal(undefined);
  return s as Service;
}

/** Names of the environment variables the server's configuration schema reads (server/src/config.ts). */
function serverEnvNames(): Set<string> {
  const source = read("server/src/config.ts");
  const start = source.indexOf("const EnvSchema = z.object({");
  expect(start, "EnvSchema in config.ts").to.be.greaterThan(-1);
  const end = source.indexOf("\n});", start);
  const body = source.slice(start, end);
  return new Set([...body.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string));
}

/** Numeric comparison of dotted versions (a.b.c). */
function versionAtLeast(version: string, min: string): boolean {
  const a = version.split(".").map(Number);
  const b = min.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

describe("compose stack and Grafana provisioning (static)", () => {
  describe("docker-compose.yml", () => {
    it("has duplistatus, grafana and mosquitto, each with a healthcheck", () => {
      for (const name of ["duplistatus", "grafana", "mosquitto"]) {
        const s = service(name);
        expect(s.healthcheck?.test, `${name} healthcheck`).to.be.an("array").with.length.greaterThan(0);
      }
    });

    it("every bind mount exists in the repository, every named volume is declared", () => {
      for (const [name, s] of Object.entries(services)) {
        for (const spec of s.volumes ?? []) {
          const { source } = mount(spec);
          if (source.startsWith("./")) {
            if (source === "./grafana-plugin/dist") {
              // Build output (git-ignored): its sources and the build script must exist instead.
              expect(exists("grafana-plugin/src/plugin.json") && exists("grafana-plugin/src/module.ts")).to.equal(true);
              const root = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
              expect(root.scripts.build).to.contain("grafana-plugin");
              continue;
            }
            expect(exists(source), `${name}: ${source}`).to.equal(true);
          } else {
            expect(declaredVolumes, `${name}: named volume ${source}`).to.include(source);
          }
        }
      }
    });

    it("duplistatus: only environment variables the server reads, on the port and data folder it uses", () => {
      const s = service("duplistatus");
      const env = s.environment ?? {};
      const known = serverEnvNames();
      for (const name of ["PORT", "DATA_DIR", "ADMIN_PASSWORD", "UPLOAD_TOKEN", "MQTT_URL"]) {
        expect(known.has(name), `config.ts reads ${name}`).to.equal(true);
        expect(env, `compose sets ${name}`).to.have.property(name);
      }
      for (const name of Object.keys(env)) {
        expect(known.has(name), `${name} is read by server/src/config.ts`).to.equal(true);
      }
      // PORT: the same in compose, the port mapping, config.ts' default, the Dockerfile and the healthcheck.
      expect(env.PORT).to.equal("9666");
      expect(s.ports).to.include("9666:9666");
      expect(read("server/src/config.ts")).to.match(/PORT: z\.coerce\.number\(\)[^\n]*\.default\(9666\)/);
      expect(read("Dockerfile")).to.match(/^EXPOSE 9666$/m);
      expect(JSON.stringify(s.healthcheck?.test)).to.contain("127.0.0.1:9666/api/health");
      // DATA_DIR is the named volume's mount point.
      const data = (s.volumes ?? []).map(mount).find((m) => m.target === env.DATA_DIR);
      expect(data, "a volume at DATA_DIR").to.not.equal(undefined);
      expect(declaredVolumes).to.include(data!.source);
      // The MQTT default points at the mosquitto service, on the port mosquitto listens on.
      expect(defaultOf(str(env.MQTT_URL, "MQTT_URL"))).to.equal("mqtt://mosquitto:1883");
    });

    it("grafana: image matches the plugin's grafanaDependency; plugin mounted under its id and allowed unsigned", () => {
      const s = service("grafana");
      const image = defaultOf(str(s.image, "grafana image"));
      const m = /^grafana\/grafana:(\d+\.\d+\.\d+)$/.exec(image);
      expect(m, `image ${image}`).to.not.equal(null);
      const version = m![1] as string;
      expect(["12", "13"]).to.include(version.split(".")[0]);
      const dependency = str(plugin.dependencies.grafanaDependency, "grafanaDependency");
      const min = /^>=\s*(\d+\.\d+\.\d+)$/.exec(dependency);
      expect(min, `grafanaDependency ${dependency}`).to.not.equal(null);
      expect(versionAtLeast(version, min![1] as string), `${version} satisfies ${dependency}`).to.equal(true);

      expect(plugin.type).to.equal("datasource");
      const mounts = (s.volumes ?? []).map(mount);
      const pluginMount = mounts.find((x) => x.source === "./grafana-plugin/dist");
      expect(pluginMount?.target).to.equal(`/var/lib/grafana/plugins/${pluginId}`);
      expect(s.environment?.GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS).to.equal(pluginId);
      // The built plugin, when present, is the same plugin.
      if (exists("grafana-plugin/dist/plugin.json")) {
        expect((JSON.parse(read("grafana-plugin/dist/plugin.json")) as { id: string }).id).to.equal(pluginId);
      }
      expect(mounts.find((x) => x.source === "./provisioning")?.target).to.equal("/etc/grafana/provisioning");
      expect(s.environment).to.have.property("DUPLISTATUS_API_TOKEN");
      expect(Object.keys(s.depends_on ?? {})).to.include("duplistatus");
    });

    it("grafana: the home dashboard path is a provisioned dashboard file", () => {
      const home = str(service("grafana").environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, "home path");
      expect(home.startsWith("/etc/grafana/provisioning/")).to.equal(true);
      expect(exists(home.replace("/etc/grafana/provisioning/", "provisioning/"))).to.equal(true);
    });

    it("mosquitto: version 2 image with the LAN config mounted where it reads it", () => {
      const s = service("mosquitto");
      expect(s.image).to.match(/^eclipse-mosquitto:2(\.|$)/);
      const conf = (s.volumes ?? []).map(mount).find((x) => x.target === "/mosquitto/config/mosquitto.conf");
      expect(conf, "mosquitto.conf mount").to.not.equal(undefined);
      const text = read(conf!.source);
      expect(text).to.match(/^listener 1883( 0\.0\.0\.0)?$/m);
      expect(text).to.match(/^allow_anonymous true$/m);
      expect(s.ports).to.include("1883:1883");
    });

    it("every ${VAR} the compose file reads is listed in deploy/env.example", () => {
      const example = read("deploy/env.example");
      const used = new Set([...read("docker-compose.yml").matchAll(/\$\{(\w+)/g)].map((m) => m[1] as string));
      for (const name of used) {
        expect(example, `${name} in deploy/env.example`).to.match(new RegExp(`^#?\\s*${name}=`, "m"));
      }
    });
  });

  describe("Dockerfile", () => {
    it("copies only files that exist, and the plugin stages build grafana-plugin", () => {
      const text = read("Dockerfile");
      for (const m of text.matchAll(/^COPY (?!--from)(.+)$/gm)) {
        const parts = (m[1] as string).trim().split(/\s+/);
        for (const source of parts.slice(0, -1)) {
          expect(exists(source.replace(/\/$/, "")), `COPY ${source}`).to.equal(true);
        }
      }
      expect(text).to.match(/AS plugin-build/);
      expect(text).to.match(/AS plugin-dist/);
    });
  });

  describe("provisioning", () => {
    const datasources = obj(parse(read("provisioning/datasources/duplistatus.yaml")), "datasource file");
    const ds = obj((datasources.datasources as unknown[])[0], "first data source");
    const providers = obj(parse(read("provisioning/dashboards/duplistatus.yaml")), "dashboard provider file");

    it("the data source: plugin id, fixed uid, proxy access to the duplistatus service, token from the environment", () => {
      expect(datasources.apiVersion).to.equal(1);
      expect(ds.type).to.equal(pluginId);
      expect(ds.uid).to.equal("duplistatus");
      expect(ds.access).to.equal("proxy");
      expect(ds.url).to.equal("http://duplistatus:9666");
      expect(services).to.have.property("duplistatus");
      expect(obj(ds.secureJsonData, "secureJsonData").apiToken).to.equal("$DUPLISTATUS_API_TOKEN");
      // The plugin's proxy route reads exactly this secure field.
      expect(JSON.stringify(plugin)).to.contain("{{ .SecureJsonData.apiToken }}");
    });

    it("the dashboard provider reads a folder that the provisioning mount provides", () => {
      const provider = obj((providers.providers as unknown[])[0], "provider");
      expect(provider.type).to.equal("file");
      const p = str(obj(provider.options, "options").path, "provider path");
      expect(p.startsWith("/etc/grafana/provisioning/")).to.equal(true);
      const local = p.replace("/etc/grafana/provisioning/", "provisioning/");
      expect(exists(local) && statSync(path.join(ROOT, local)).isDirectory(), local).to.equal(true);
    });

    const dashboardDir = "provisioning/dashboards/duplistatus";
    const files = readdirSync(path.join(ROOT, dashboardDir)).filter((f) => f.endsWith(".json"));

    it("ships the overview and the per-server drill-down, with unique uids", () => {
      expect(files).to.include.members(["overview.json", "server.json"]);
      const uids = files.map((f) => (JSON.parse(read(`${dashboardDir}/${f}`)) as { uid: string }).uid);
      expect(new Set(uids).size).to.equal(uids.length);
    });

    for (const file of files) {
      it(`${file}: valid JSON; every panel, query, annotation and variable uses the provisioned uid`, () => {
        let dashboard: Obj = {};
        expect(() => (dashboard = JSON.parse(read(`${dashboardDir}/${file}`)) as Obj), "valid JSON").to.not.throw();
        expect(dashboard.uid).to.be.a("string");
        const expectDs = (value: unknown, what: string) => {
          const d = obj(value, `${what} datasource`);
          expect(d.uid, `${what} datasource uid`).to.equal(ds.uid);
          expect(d.type, `${what} datasource type`).to.equal(pluginId);
        };
        const panels: Obj[] = [];
        const collect = (list: unknown) => {
          for (const p of (list as unknown[]) ?? []) {
            const panel = obj(p, "panel");
            if (panel.type === "row") collect(panel.panels);
            else panels.push(panel);
          }
        };
        collect(dashboard.panels);
        expect(panels.length).to.be.greaterThan(3);
        for (const panel of panels) {
          const what = `panel "${String(panel.title)}"`;
          expectDs(panel.datasource, what);
          const targets = panel.targets as unknown[];
          expect(targets, `${what} targets`).to.be.an("array").with.length.greaterThan(0);
          for (const t of targets) {
            const target = obj(t, `${what} target`);
            if (target.datasource !== undefined) expectDs(target.datasource, `${what} target`);
            expect(["timeseries", "status", "summary", "events"]).to.include(target.queryType);
          }
        }
        const annotations = (obj(dashboard.annotations, "annotations").list as Obj[]).filter((a) => !a.builtIn);
        expect(annotations.length, "a duplistatus annotation").to.be.greaterThan(0);
        for (const a of annotations) expectDs(a.datasource, `annotation "${String(a.name)}"`);
        for (const v of (obj(dashboard.templating, "templating").list as Obj[]) ?? []) {
          if (v.type === "query") expectDs(v.datasource, `variable ${String(v.name)}`);
        }
      });
    }

    it("the drill-down has the server and job variables; links between dashboards point at existing uids", () => {
      const server = JSON.parse(read(`${dashboardDir}/server.json`)) as {
        templating: { list: Array<{ name: string }> };
      };
      expect(server.templating.list.map((v) => v.name)).to.include.members(["server", "job"]);
      const uids = new Set(files.map((f) => (JSON.parse(read(`${dashboardDir}/${f}`)) as { uid: string }).uid));
      for (const f of files) {
        for (const m of read(`${dashboardDir}/${f}`).matchAll(/\/d\/([\w-]+)/g)) {
          expect(uids.has(m[1] as string), `${f} links to /d/${m[1]}`).to.equal(true);
        }
      }
    });
  });
});
