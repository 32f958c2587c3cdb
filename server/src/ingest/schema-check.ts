import type { z } from "zod";

/**
 * A zod schema compiled to a plain predicate that is true only for values the schema accepts, for the upload hot
 * path: safeParse of a realistic report (two loose objects of 30-odd members each) costs more than everything else
 * validateReport does, because zod builds a result object per member and copies the input. The predicate only
 * answers "certainly valid"; for false the caller runs safeParse, so what is rejected, and every error body, stays
 * zod's own, and the schemas remain the single declaration (also of the OpenAPI document).
 *
 * It reads the schema's definition (`_zod.def`) and knows only the constructs the upload schemas use: string
 * (min_length), number (greater_than, number_format safeint), boolean, unknown/any, optional, nullable, union,
 * array and object (stripping or passing through unknown members). Anything else, including coercion, defaults,
 * transforms and refinements, makes compileCheck return null, and the caller then always uses safeParse.
 */
export type Check = (value: unknown) => boolean;

/** The parts of a zod schema node read here (zod's own types for them are internal and much wider). */
interface SchemaNode {
  readonly _zod: {
    readonly def: SchemaDef;
    readonly traits: ReadonlySet<string>;
    readonly optin?: "optional" | "defaulted" | undefined;
  };
}

interface SchemaDef {
  readonly type: string;
  readonly checks?: readonly { readonly _zod: { readonly def: CheckDef } }[];
  readonly shape?: Readonly<Record<string, SchemaNode>>;
  readonly catchall?: SchemaNode;
  readonly element?: SchemaNode;
  readonly options?: readonly SchemaNode[];
  readonly innerType?: SchemaNode;
}

interface CheckDef {
  readonly check: string;
  readonly minimum?: unknown;
  readonly value?: unknown;
  readonly inclusive?: boolean;
  readonly format?: string;
}

/**
 * The definition members each understood type may have. Any other member (coerce, a custom error, a string format,
 * a discriminator, whatever a later zod adds) leaves the schema to zod.
 */
const KNOWN_DEF_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  unknown: ["type"],
  any: ["type"],
  boolean: ["type"],
  string: ["type", "checks"],
  number: ["type", "checks"],
  optional: ["type", "innerType"],
  nullable: ["type", "innerType"],
  union: ["type", "options"],
  array: ["type", "element"],
  object: ["type", "shape", "catchall"],
};

const acceptAny: Check = () => true;
const SURROGATE = /[\ud800-\udfff]/;

export function compileCheck(schema: z.core.$ZodType): Check | null {
  return compile(schema as unknown as SchemaNode);
}

function compile(node: SchemaNode): Check | null {
  const def = node._zod.def;
  const members = KNOWN_DEF_MEMBERS[def.type];
  if (members === undefined || Object.keys(def).some((key) => !members.includes(key))) return null;
  // z.exactOptional() is an "optional" that does not take an explicit undefined.
  if (node._zod.traits.has("$ZodExactOptional")) return null;
  const checks = def.checks ?? [];
  switch (def.type) {
    case "unknown":
    case "any":
      return checks.length === 0 ? acceptAny : null;
    case "boolean":
      return checks.length === 0 ? (v) => typeof v === "boolean" : null;
    case "string":
      return all((v) => typeof v === "string", checks.map(stringCheck));
    case "number":
      // zod's number rejects NaN and ±Infinity before any check.
      return all((v) => typeof v === "number" && Number.isFinite(v), checks.map(numberCheck));
    case "optional":
      return checks.length === 0 ? wrap(def.innerType, (inner) => (v) => v === undefined || inner(v)) : null;
    case "nullable":
      return checks.length === 0 ? wrap(def.innerType, (inner) => (v) => v === null || inner(v)) : null;
    case "union":
      return checks.length === 0 ? compileUnion(def.options ?? []) : null;
    case "array":
      return checks.length === 0 ? wrap(def.element, compileArray) : null;
    case "object":
      return checks.length === 0 ? compileObject(def) : null;
    default:
      return null;
  }
}

function wrap(inner: SchemaNode | undefined, build: (check: Check) => Check): Check | null {
  const check = inner === undefined ? null : compile(inner);
  return check === null ? null : build(check);
}

/** The type test followed by the refinements; null when one of them is not understood. */
function all(typeTest: Check, refinements: readonly (Check | null)[]): Check | null {
  if (refinements.some((r) => r === null)) return null;
  const list = refinements as readonly Check[];
  return list.length === 0 ? typeTest : (v) => typeTest(v) && list.every((r) => r(v));
}

function stringCheck(check: { readonly _zod: { readonly def: CheckDef } }): Check | null {
  const def = check._zod.def;
  if (def.check !== "min_length" || typeof def.minimum !== "number") return null;
  const minimum = def.minimum;
  // zod counts code points. Without surrogates that is the length; a string of twice the minimum has enough
  // either way; anything in between is left to zod.
  return (v) => {
    const length = (v as string).length;
    return length >= minimum && (length >= 2 * minimum || !SURROGATE.test(v as string));
  };
}

function numberCheck(check: { readonly _zod: { readonly def: CheckDef } }): Check | null {
  const def = check._zod.def;
  if (def.check === "greater_than" && typeof def.value === "number") {
    const bound = def.value;
    return def.inclusive === true ? (v) => (v as number) >= bound : (v) => (v as number) > bound;
  }
  if (def.check === "number_format" && def.format === "safeint") return (v) => Number.isSafeInteger(v);
  return null;
}

function compileUnion(options: readonly SchemaNode[]): Check | null {
  const checks = options.map(compile);
  if (checks.length === 0 || checks.some((c) => c === null)) return null;
  const list = checks as readonly Check[];
  // zod takes the first option that accepts; the value is valid when any does.
  return (v) => list.some((c) => c(v));
}

function compileArray(element: Check): Check {
  if (element === acceptAny) return (v) => Array.isArray(v);
  return (v) => {
    if (!Array.isArray(v)) return false;
    for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
    return true;
  };
}

function compileObject(def: SchemaDef): Check | null {
  // Unknown members are either stripped (no catchall) or passed through (z.looseObject's catchall is unknown);
  // a strict or typed catchall is left to zod.
  if (def.catchall !== undefined && compile(def.catchall) !== acceptAny) return null;
  const members: { key: string; required: boolean; check: Check }[] = [];
  for (const [key, node] of Object.entries(def.shape ?? {})) {
    const check = compile(node);
    if (check === null || key === "__proto__") return null;
    // zod reports a missing member unless its schema admits absence (optional, nullish, …).
    members.push({ key, required: node._zod.optin === undefined, check });
  }
  return (v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    const record = v as Record<string, unknown>;
    for (const { key, required, check } of members) {
      if (required && !(key in record)) return false;
      if (!check(record[key])) return false;
    }
    return true;
  };
}
