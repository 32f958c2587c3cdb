/** The original's password policy: PWD_MIN_LEN (default 8), and upper/lower/digit unless PWD_ENFORCE=false. */
export interface PasswordPolicy {
  minLength: number;
  requireUppercase: boolean;
  requireLowercase: boolean;
  requireNumbers: boolean;
  requireSpecialChars: boolean;
}

/** The original's documented default password is always refused. */
const KNOWN_DEFAULTS = new Set(["duplistatus09"]);

export function passwordPolicy(cfg: { passwordMinLength: number; passwordEnforce: boolean }): PasswordPolicy {
  return {
    minLength: cfg.passwordMinLength,
    requireUppercase: cfg.passwordEnforce,
    requireLowercase: cfg.passwordEnforce,
    requireNumbers: cfg.passwordEnforce,
    requireSpecialChars: false,
  };
}

/** English messages, one per unmet rule; empty when the password is acceptable. */
export function validatePassword(password: string, policy: PasswordPolicy): string[] {
  const errors: string[] = [];
  if (password.length < policy.minLength) errors.push(`Password must be at least ${policy.minLength} characters long`);
  if (password.length > 256) errors.push("Password must be at most 256 characters long");
  if (policy.requireUppercase && !/[A-Z]/.test(password))
    errors.push("Password must contain at least one uppercase letter");
  if (policy.requireLowercase && !/[a-z]/.test(password))
    errors.push("Password must contain at least one lowercase letter");
  if (policy.requireNumbers && !/[0-9]/.test(password)) errors.push("Password must contain at least one number");
  if (KNOWN_DEFAULTS.has(password.toLowerCase())) errors.push("This password is publicly known and cannot be used");
  return errors;
}
