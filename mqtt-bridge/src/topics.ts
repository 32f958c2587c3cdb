import { createHash } from "node:crypto";

/**
 * Names on the wire. Topic segments and discovery ids are derived from stable identities (server id, job name),
 * never from display names, so a renamed server keeps its topics and Home Assistant entities.
 */

/** A slug that is left as it is: lower-case letters and digits, single `_` or `-` between them, at most 64. */
const SLUG_AS_IS = /^[a-z0-9]+(?:[_-][a-z0-9]+)*$/;
const MAX_SLUG = 64;

function hash8(raw: string): string {
  return createHash("sha256").update(raw, "utf8").digest("hex").slice(0, 8);
}

/**
 * A topic segment (and discovery id part) for a raw identifier: the identifier itself when it is already a plain
 * lower-case slug, else a readable slug of it plus `_` and 8 hex digits of its SHA-256 (so "WSJ-SER5 Local files"
 * becomes `wsj_ser5_local_files_<hash>` and "Files" cannot meet "files"). The result never contains `+`, `#`, `/`,
 * NUL, upper case or a double underscore, which `idOf` relies on.
 */
export function segment(raw: string): string {
  if (raw.length <= MAX_SLUG && SLUG_AS_IS.test(raw)) return raw;
  const readable = raw
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 40)
    .replace(/_+$/, "");
  return `${readable || "x"}_${hash8(raw)}`;
}

/** The `<…>` part of an entity id (`sensor.<…>`): `[a-z0-9_]`, readable; a hash when nothing readable is left. */
export function entitySlug(raw: string): string {
  const readable = raw
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 60)
    .replace(/_+$/, "");
  return readable || `h${hash8(raw)}`;
}

/**
 * Joins id parts with `__`. Segments never contain `__`, so the number of parts tells the kinds apart: bridge
 * entities `<inst>__<key>`, server entities `<inst>__<server>__<key>`, job entities `<inst>__<server>__<job>__<key>`.
 */
export function idOf(...parts: string[]): string {
  return parts.join("__");
}

/** Every topic the bridge publishes or reads, for one base topic and discovery prefix. */
export class Topics {
  /** The instance part of unique ids and device identifiers: the base topic as a segment ("duplistatus"). */
  readonly instance: string;

  constructor(
    readonly base: string,
    readonly discoveryPrefix: string,
  ) {
    this.instance = segment(base);
  }

  get status(): string {
    return `${this.base}/status`;
  }
  get summary(): string {
    return `${this.base}/summary`;
  }
  get events(): string {
    return `${this.base}/events`;
  }
  /** Everything below `<base>/server/`: subscribed to learn what is retained from earlier runs. */
  get serverWildcard(): string {
    return `${this.base}/server/#`;
  }
  /** Home Assistant's birth / last-will topic. */
  get haStatus(): string {
    return `${this.discoveryPrefix}/status`;
  }

  serverState(serverId: string): string {
    return `${this.base}/server/${segment(serverId)}/state`;
  }
  jobState(serverId: string, job: string): string {
    return `${this.base}/server/${segment(serverId)}/backup/${segment(job)}/state`;
  }
  jobEvent(serverId: string, job: string): string {
    return `${this.base}/server/${segment(serverId)}/backup/${segment(job)}/event`;
  }

  /** `<prefix>/<component>/<unique_id>/config`: the unique id as object id, no node id (HA's advice). */
  discovery(component: string, uniqueId: string): string {
    return `${this.discoveryPrefix}/${component}/${uniqueId}/config`;
  }

  /** Which retained topic of ours this is, if any: a server state or a job state (by their segments). */
  classify(topic: string): { kind: "server"; server: string } | { kind: "job"; server: string; job: string } | null {
    const prefix = `${this.base}/server/`;
    if (!topic.startsWith(prefix)) return null;
    const rest = topic.slice(prefix.length).split("/");
    if (rest.length === 2 && rest[1] === "state" && rest[0]) return { kind: "server", server: rest[0] };
    if (rest.length === 4 && rest[1] === "backup" && rest[3] === "state" && rest[0] && rest[2]) {
      return { kind: "job", server: rest[0], job: rest[2] };
    }
    return null;
  }
}
