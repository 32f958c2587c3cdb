import type { Clock } from "./clock";
import type { EventBus, EventHandler, EventName } from "./events";
import type { Logger } from "./logger";

/** What the core hands a plugin at start: event subscriptions, read services, a logger, its config, the clock. */
export interface PluginContext<TConfig = unknown, TServices = unknown> {
  readonly config: TConfig;
  readonly log: Logger;
  readonly clock: Clock;
  readonly services: TServices;
  on<K extends EventName>(name: K, handler: EventHandler<K>): void;
}

export interface Plugin<TConfig = unknown, TServices = unknown> {
  readonly name: string;
  start(ctx: PluginContext<TConfig, TServices>): void | Promise<void>;
  stop(): void | Promise<void>;
}

export type PluginState = "stopped" | "running" | "failed";

interface Entry {
  plugin: Plugin<unknown, unknown>;
  config: unknown;
  state: PluginState;
  error?: string;
  unsubscribe: Array<() => void>;
}

/**
 * Starts and stops integrations. A plugin that throws at start is marked failed and the others go on; its event
 * subscriptions are dropped when it stops or fails, so a stopped plugin never receives another event.
 */
export class PluginHost<TServices> {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly deps: { events: EventBus; log: Logger; clock: Clock; services: TServices },
  ) {}

  register<TConfig>(plugin: Plugin<TConfig, TServices>, config: TConfig): void {
    if (this.entries.has(plugin.name)) throw new Error(`Plugin "${plugin.name}" is already registered`);
    this.entries.set(plugin.name, {
      plugin: plugin as Plugin<unknown, unknown>,
      config,
      state: "stopped",
      unsubscribe: [],
    });
  }

  list(): Array<{ name: string; state: PluginState; error?: string }> {
    return [...this.entries.values()].map((e) => ({ name: e.plugin.name, state: e.state, error: e.error }));
  }

  async startAll(): Promise<void> {
    for (const name of this.entries.keys()) await this.start(name);
  }

  async start(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry || entry.state === "running") return;
    const log = this.deps.log.child({ plugin: name });
    const ctx: PluginContext<unknown, TServices> = {
      config: entry.config,
      log,
      clock: this.deps.clock,
      services: this.deps.services,
      on: (event, handler) => {
        entry.unsubscribe.push(this.deps.events.on(event, handler));
      },
    };
    try {
      await entry.plugin.start(ctx);
      entry.state = "running";
      entry.error = undefined;
      log.info("plugin started");
    } catch (err) {
      this.dropSubscriptions(entry);
      entry.state = "failed";
      entry.error = err instanceof Error ? err.message : String(err);
      log.error({ err }, "plugin failed to start");
    }
  }

  async stopAll(): Promise<void> {
    for (const name of [...this.entries.keys()].reverse()) await this.stop(name);
  }

  async stop(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry || entry.state !== "running") return;
    this.dropSubscriptions(entry);
    try {
      await entry.plugin.stop();
      entry.state = "stopped";
    } catch (err) {
      entry.state = "failed";
      entry.error = err instanceof Error ? err.message : String(err);
      this.deps.log.error({ err, plugin: name }, "plugin failed to stop");
    }
  }

  private dropSubscriptions(entry: Entry): void {
    for (const off of entry.unsubscribe.splice(0)) off();
  }
}
