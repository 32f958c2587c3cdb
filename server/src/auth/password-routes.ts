import { z } from "zod";
import type { AppContext } from "../context";
import { HttpError } from "../core/errors";
import { defineRoute, type RouteDef } from "../http/route";
import { callerOf } from "./caller";
import { isLoggedIn } from "./principal";
import { ErrorBody, PasswordPolicyBody, PolicyErrorBody } from "./schemas";
import type { UserService } from "./user-service";

const ChangePasswordBody = z.object({
  currentPassword: z.string().max(1024).optional(),
  newPassword: z.string().max(1024).optional(),
});

/** Password policy, the login page's must-change hint, and changing one's own password (reference §2.3). */
export function passwordRoutes(ctx: AppContext, users: UserService): RouteDef[] {
  const { access } = ctx;
  return [
    defineRoute({
      method: "get",
      path: "/api/auth/password-policy",
      access: "public",
      summary: "The password rules (PWD_MIN_LEN, PWD_ENFORCE)",
      tags: ["auth"],
      internalError: { error: "Failed to retrieve password policy", errorCode: "POLICY_RETRIEVE_FAILED" },
      responses: { 200: { description: "Rules new passwords must meet", schema: PasswordPolicyBody } },
      handler: async () => ({ body: { ...users.policy } }),
    }),

    defineRoute({
      method: "get",
      path: "/api/auth/admin-must-change-password",
      access: "public",
      summary: "Whether the `admin` account still has to change its first password (login page hint)",
      tags: ["auth"],
      noCache: true,
      responses: {
        200: { description: "The flag; false on any error", schema: z.object({ mustChangePassword: z.boolean() }) },
      },
      handler: async () => ({ body: { mustChangePassword: await users.adminMustChangePassword() } }),
    }),

    defineRoute({
      method: "post",
      path: "/api/auth/change-password",
      access: "user",
      allowPendingPasswordChange: true,
      summary: "Change your own password (the current password is always required)",
      description:
        "Needs a logged-in browser session (cookie + X-CSRF-Token); API tokens belong to no user and get 400 " +
        "SESSION_REQUIRED. Clears the must-change flag and ends the user's other sessions; the calling session stays. " +
        "A wrong current password counts towards the login lockout.",
      tags: ["auth"],
      body: ChangePasswordBody,
      responses: {
        200: {
          description: "Password changed",
          schema: z.object({
            success: z.literal(true),
            message: z.string(),
            successCode: z.literal("PASSWORD_CHANGED"),
          }),
        },
        400: {
          description:
            "NEW_PASSWORD_REQUIRED, CURRENT_PASSWORD_REQUIRED, POLICY_NOT_MET (+ validationErrors), " +
            "NEW_PASSWORD_SAME_AS_CURRENT, or SESSION_REQUIRED (called with an API token)",
          schema: ErrorBody.or(PolicyErrorBody),
        },
        401: { description: "CURRENT_PASSWORD_INCORRECT, or not logged in", schema: ErrorBody },
        403: { description: "CSRF token missing/invalid, or a token scope that may not do this", schema: ErrorBody },
        404: { description: "USER_NOT_FOUND (the account was deleted meanwhile)", schema: ErrorBody },
      },
      handler: async (kctx, { body }) => {
        const p = await access.resolve(kctx);
        if (!isLoggedIn(p)) {
          throw new HttpError(400, {
            error: "Changing a password needs a logged-in browser session; API tokens belong to no user",
            errorCode: "SESSION_REQUIRED",
          });
        }
        await users.changeOwnPassword(
          {
            userId: p.user.id,
            sessionHash: p.sessionHash,
            currentPassword: body.currentPassword,
            newPassword: body.newPassword,
          },
          callerOf(kctx, p),
        );
        return { body: { success: true, message: "Password changed successfully", successCode: "PASSWORD_CHANGED" } };
      },
    }),
  ];
}
