/**
 * Errors that carry an HTTP status and the exact JSON body to send. Services throw them; the error middleware
 * turns them into responses. Anything else becomes a 500 without details (outside development).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(typeof body.error === "string" ? body.error : `HTTP ${status}`);
  }
}

export const badRequest = (error: string, extra: Record<string, unknown> = {}) =>
  new HttpError(400, { error, ...extra });
export const unauthorized = (error = "Authentication required", extra: Record<string, unknown> = {}) =>
  new HttpError(401, { error, ...extra });
export const forbidden = (error: string, extra: Record<string, unknown> = {}) =>
  new HttpError(403, { error, ...extra });
export const notFound = (error: string, extra: Record<string, unknown> = {}) => new HttpError(404, { error, ...extra });
export const conflict = (error: string, extra: Record<string, unknown> = {}) => new HttpError(409, { error, ...extra });
