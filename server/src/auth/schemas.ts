import { z } from "zod";

/** Response schemas shared by the auth, session and user routes. */

export const ErrorBody = z.looseObject({
  error: z.string(),
  errorCode: z.string().optional(),
  message: z.string().optional(),
});

/** 400 for a password that fails the policy: one English sentence per unmet rule. */
export const PolicyErrorBody = z.looseObject({
  error: z.string(),
  errorCode: z.string().optional(),
  validationErrors: z.array(z.string()),
});

/** Strict: a stray field (a password hash above all) fails response validation in tests instead of leaking. */
export const PublicUser = z.strictObject({
  id: z.string(),
  username: z.string(),
  isAdmin: z.boolean(),
  mustChangePassword: z.boolean(),
});

export const UserListItem = z.strictObject({
  ...PublicUser.shape,
  createdAt: z.string(),
  updatedAt: z.string(),
  lastLoginAt: z.string().nullable(),
  lastLoginIp: z.string().nullable(),
  failedLoginAttempts: z.number().int(),
  lockedUntil: z.string().nullable(),
  isLocked: z.boolean(),
});

export const Pagination = z.object({
  page: z.number().int(),
  limit: z.number().int(),
  total: z.number().int(),
  totalPages: z.number().int(),
});

export const PasswordPolicyBody = z.object({
  minLength: z.number().int(),
  requireUppercase: z.boolean(),
  requireLowercase: z.boolean(),
  requireNumbers: z.boolean(),
  requireSpecialChars: z.boolean(),
});
