import { randomBytes } from "node:crypto";
import type { PasswordPolicy } from "./password-policy";

/** No look-alike characters (0/O, 1/l/I): temporary passwords are read off a screen and typed by hand. */
const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/** A random password with at least one upper-case letter, one lower-case letter and one digit. */
export function generatePassword(length = 20): string {
  for (;;) {
    const bytes = randomBytes(length);
    // 256 % 57 leaves a slight bias towards the first characters; irrelevant at these lengths (~5.8 bits a char).
    const pw = Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join("");
    if (/[A-Z]/.test(pw) && /[a-z]/.test(pw) && /[0-9]/.test(pw)) return pw;
  }
}

/**
 * The password handed out when an admin creates a user without one or resets a password: 12 characters like the
 * original, longer when PWD_MIN_LEN asks for more, so it always passes the policy it is checked against later.
 */
export function temporaryPassword(policy: PasswordPolicy): string {
  return generatePassword(Math.max(12, policy.minLength));
}
