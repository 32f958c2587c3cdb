import { z } from "zod";
import type { AppContext } from "../context";
import { defineRoute, type HttpMethod, type RouteDef } from "../http/route";
import { callerOf } from "./caller";
import { ErrorBody, Pagination, PolicyErrorBody, PublicUser, UserListItem } from "./schemas";
import type { UserService } from "./user-service";

const UserIdParam = z.object({ id: z.string().min(1).max(100).describe("User id (UUID)") });

const ListQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  search: z.string().max(100).optional().describe("Case-insensitive substring of the username"),
});

const CreateBody = z.object({
  username: z.string().max(1000).optional(),
  password: z.string().max(1024).optional().describe("Omit to have a temporary password generated and returned"),
  isAdmin: z.boolean().optional(),
  requirePasswordChange: z.boolean().optional(),
});

const UpdateBody = z.object({
  username: z.string().max(1000).optional(),
  isAdmin: z.boolean().optional(),
  requirePasswordChange: z.boolean().optional(),
  resetPassword: z.boolean().optional(),
});

const UserWithPassword = z.strictObject({ user: PublicUser, temporaryPassword: z.string().optional() });

const adminErrors = {
  401: { description: "Not logged in", schema: ErrorBody },
  403: { description: "Not an administrator, password change pending, or CSRF token missing", schema: ErrorBody },
};

/** User management (reference §2.8): admins only; PUT is accepted as an alias of PATCH (contract §4). */
export function userRoutes(ctx: AppContext, users: UserService): RouteDef[] {
  const { access } = ctx;

  const updateRoute = (method: HttpMethod) =>
    defineRoute({
      method,
      path: "/api/users/:id",
      access: "admin",
      summary:
        method === "put"
          ? "Update a user (alias of PATCH)"
          : "Update a user: rename, admin rights, must-change flag, password reset",
      description:
        "resetPassword:true returns a temporaryPassword once, sets the must-change flag and ends the user's sessions " +
        "(but not the caller's own when admins reset themselves). The last administrator cannot lose admin rights.",
      tags: ["users"],
      params: UserIdParam,
      body: UpdateBody,
      responses: {
        200: { description: "The updated user (and the temporary password after a reset)", schema: UserWithPassword },
        400: { description: "Username not 3–50 characters, or removing the last administrator", schema: ErrorBody },
        ...adminErrors,
        404: { description: "No such user", schema: ErrorBody },
        409: { description: "Username already exists", schema: ErrorBody },
      },
      handler: async (kctx, { params, body }) => ({
        body: await users.update(params.id, body, callerOf(kctx, await access.resolve(kctx))),
      }),
    });

  return [
    defineRoute({
      method: "get",
      path: "/api/users",
      access: "admin",
      summary: "List users (paged, ordered by username)",
      tags: ["users"],
      query: ListQuery,
      noCache: true,
      responses: {
        200: {
          description: "One page of users; never a password hash",
          schema: z.object({ users: z.array(UserListItem), pagination: Pagination }),
        },
        400: { description: "Invalid page, limit or search", schema: ErrorBody },
        ...adminErrors,
      },
      handler: async (_kctx, { query }) => ({ body: await users.list(query) }),
    }),

    defineRoute({
      method: "post",
      path: "/api/users",
      access: "admin",
      summary: "Create a user",
      description:
        "Username: 3–50 characters, stored trimmed and lower-case. Without a password a temporary one is generated, " +
        "returned once as temporaryPassword, and must be changed at first login. requirePasswordChange defaults to true.",
      tags: ["users"],
      body: CreateBody,
      responses: {
        201: { description: "Created", schema: UserWithPassword },
        400: {
          description: "Username missing or not 3–50 characters, or the password fails the policy (validationErrors)",
          schema: ErrorBody.or(PolicyErrorBody),
        },
        ...adminErrors,
        409: { description: "Username already exists", schema: ErrorBody },
      },
      handler: async (kctx, { body }) => ({
        status: 201,
        body: await users.create(body, callerOf(kctx, await access.resolve(kctx))),
      }),
    }),

    updateRoute("patch"),
    updateRoute("put"),

    defineRoute({
      method: "delete",
      path: "/api/users/:id",
      access: "admin",
      summary: "Delete a user (and end its sessions)",
      tags: ["users"],
      params: UserIdParam,
      responses: {
        200: {
          description: "Deleted",
          schema: z.object({ success: z.literal(true), message: z.string() }),
        },
        400: { description: "Cannot delete your own account / the last admin account", schema: ErrorBody },
        ...adminErrors,
        404: { description: "No such user", schema: ErrorBody },
      },
      handler: async (kctx, { params }) => {
        await users.remove(params.id, callerOf(kctx, await access.resolve(kctx)));
        return { body: { success: true, message: "User deleted successfully" } };
      },
    }),
  ];
}
