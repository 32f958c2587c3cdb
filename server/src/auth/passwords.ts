/**
 * Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes). @node-rs/argon2 ships prebuilt binaries in
 * the npm package, so nothing is compiled at install time, and hashing runs off the event loop.
 */
const OPTIONS = {
  algorithm: 2 /* Argon2id (a const enum, not importable under isolatedModules) */,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** The native argon2 binding is loaded at the first hash or verification (a login), not when the server starts. */
function argon2(): typeof import("@node-rs/argon2") {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("@node-rs/argon2") as typeof import("@node-rs/argon2");
}

export const hashPassword = (plain: string): Promise<string> => argon2().hash(plain, OPTIONS);

export async function verifyPassword(stored: string, plain: string): Promise<boolean> {
  try {
    return await argon2().verify(stored, plain);
  } catch {
    return false;
  }
}

/** A hash of a random string, verified against when the user does not exist, so timing does not reveal usernames. */
let dummyHash: Promise<string> | undefined;
export function dummyVerify(plain: string): Promise<boolean> {
  dummyHash ??= hashPassword("duplistatus-dummy-password");
  return dummyHash.then((h) => verifyPassword(h, plain)).then(() => false);
}
