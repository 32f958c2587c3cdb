import type Router from "@koa/router";
import type Koa from "koa";

type Layer = Router["stack"][number];

interface Entry {
  layer: Layer;
  /** The layer's middleware, composed once instead of on every request. */
  chain: Koa.Middleware;
}

/**
 * koa-compose for a fixed chain: each middleware's next() runs the following one, the last one's runs `next`. No
 * named function is made per request (under tsx every named closure costs an Object.defineProperty for its name).
 */
function compose(stack: readonly Koa.Middleware[]): Koa.Middleware {
  const step = (ctx: Koa.Context, next: Koa.Next, i: number, state: { index: number }): Promise<void> => {
    if (i <= state.index) return Promise.reject(new Error("next() called multiple times"));
    state.index = i;
    const fn = i === stack.length ? next : stack[i];
    if (!fn) return Promise.resolve();
    try {
      return Promise.resolve(fn(ctx, () => step(ctx, next, i + 1, state)));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  };
  return (ctx, next) => step(ctx, next, 0, { index: -1 });
}

/** Characters that end the literal start of a path-to-regexp (v8) path: parameters, wildcards, groups, escapes. */
const SPECIAL = /[:*{}()[\]?+!\\]/;

/** The first two segments of a lower-cased path ("/api/lastbackups/x" → "/api/lastbackups"); the whole path if shorter. */
function bucketKey(lowerPath: string): string {
  const second = lowerPath.indexOf("/", 1);
  if (second === -1) return lowerPath;
  const third = lowerPath.indexOf("/", second + 1);
  return third === -1 ? lowerPath : lowerPath.slice(0, third);
}

const slashes = (s: string): number => s.split("/").length - 1;

/**
 * The bucket a layer can match in, or null when it may match paths of several buckets. A path the layer's regexp
 * matches starts with the layer's literal start, case-insensitively (the regexps are /i without /u, so only ASCII
 * letters fold, and a non-ASCII character never matches an ASCII one): when that start holds three slashes, every
 * match has the same first two segments. A fully literal path of two segments ("/api/summary") also matches with a
 * trailing slash, which has the same first two segments.
 */
function layerBucket(path: string): string | null {
  const cut = path.search(SPECIAL);
  const literal = (cut === -1 ? path : path.slice(0, cut)).toLowerCase();
  if (!literal.startsWith("/")) return null;
  if (slashes(literal) >= 3) return bucketKey(literal);
  if (cut === -1 && slashes(literal) === 2 && !literal.endsWith("/")) return literal;
  return null;
}

export interface Dispatcher {
  /** Router middleware: runs the route the router would run. */
  middleware: Koa.Middleware;
  /** The layer a request would run: the first of the router's matched layers for this method (tests compare). */
  match(path: string, method: string): Layer | undefined;
}

/**
 * The router's dispatch with the work that does not depend on the request done once. @koa/router tests every
 * layer's regexp against each request and composes the matched layers' middleware per request; here the layers are
 * grouped by method and by the first two path segments they can match, their middleware composed at start-up, and
 * a request runs the first layer (in registration order) whose regexp matches, as the router would.
 *
 * The router would run the next matched layer only if a route's last middleware called next(), which none does (the
 * handler middleware ends every chain); a request no layer matches goes on to `next` as it would. Returns null when
 * the router uses what this does not reproduce (router.use() middleware, RegExp paths, a host or prefix), and the
 * caller then mounts router.routes().
 */
export function createDispatcher(router: Router): Dispatcher | null {
  if ((router as { host?: unknown }).host || router.opts.prefix || router.opts.exclusive) return null;
  const layers = router.stack;
  if (layers.some((l) => typeof l.path !== "string" || l.methods.length === 0 || l.opts.ignoreCaptures)) return null;

  const methods = new Set(layers.flatMap((l) => l.methods));
  const table = new Map<string, { buckets: Map<string, Entry[]>; generic: Entry[] }>();
  const entries = new Map<Layer, Entry>(
    layers.map((layer) => [layer, { layer, chain: compose(layer.stack as Koa.Middleware[]) }]),
  );
  for (const method of methods) {
    const own = layers.filter((l) => l.methods.includes(method));
    const keyed = own.map((l) => ({ l, key: layerBucket(l.path as string) }));
    const buckets = new Map<string, Entry[]>();
    for (const key of new Set(keyed.map((k) => k.key))) {
      if (key === null) continue;
      // Stack order: the bucket's own layers and the layers of no bucket, as the router would try them.
      buckets.set(
        key,
        keyed.filter((k) => k.key === key || k.key === null).map((k) => entries.get(k.l) as Entry),
      );
    }
    const generic = keyed.filter((k) => k.key === null).map((k) => entries.get(k.l) as Entry);
    table.set(method, { buckets, generic });
  }

  const find = (path: string, method: string): Entry | undefined => {
    const forMethod = table.get(method);
    if (forMethod === undefined) return undefined;
    const candidates = forMethod.buckets.get(bucketKey(path.toLowerCase())) ?? forMethod.generic;
    for (const entry of candidates) if (entry.layer.regexp.test(path)) return entry;
    return undefined;
  };

  return {
    middleware: (ctx, next) => {
      const path = ctx.path;
      const entry = find(path, ctx.method);
      if (entry === undefined) return next();
      const { layer, chain } = entry;
      const params = layer.params(path, layer.captures(path));
      (ctx.request as { params?: unknown }).params = params;
      ctx.params = params;
      (ctx as { _matchedRoute?: unknown })._matchedRoute = layer.path;
      return chain(ctx, next);
    },
    match: (path, method) => find(path, method)?.layer,
  };
}
