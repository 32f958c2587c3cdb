import { hash, verify } from "@node-rs/argon2";

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

export const hashPassword = (plain: string): Promise<string> => hash(plain, OPTIONS);

export async function verifyPassword(stored: string, plain: string): Promise<boolean> {
  try {
    return await verify(stored, plain);
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
