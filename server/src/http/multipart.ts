import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type Koa from "koa";
import { koaBody } from "koa-body";
import { HttpError } from "../core/errors";

/** Body parser kind "multipart" (file uploads, e.g. a database restore): koa-body's built-in formidable. */
export interface MultipartOptions {
  /** Folder for the uploaded files; each request writes into its own sub-folder, removed when the request ends. */
  uploadDir: string;
  /** Largest accepted file in bytes; beyond it the request is answered 413. */
  maxFileBytes: number;
}

/** An uploaded file as route handlers see it. The file is deleted when the request ends. */
export interface UploadedFile {
  path: string;
  originalName: string | null;
  size: number;
}

/** Room for the multipart framing around the file when judging a declared Content-Length. */
const FRAMING_SLACK = 64 * 1024;

function multipartError(err: unknown, limit: number): HttpError | null {
  const httpCode = (err as { httpCode?: unknown }).httpCode;
  if (httpCode === 413) {
    return new HttpError(413, { error: "File too large", message: `The largest accepted file is ${limit} bytes` });
  }
  if (httpCode === 400 || httpCode === 415) {
    const message = err instanceof Error ? err.message : "The multipart body could not be read";
    return new HttpError(httpCode, { error: "Invalid multipart body", message });
  }
  return null;
}

export function multipartBodyParser(options: MultipartOptions): Koa.Middleware {
  return async (ctx, next) => {
    // A declared size beyond the limit is refused before a byte of it is stored.
    const declared = Number(ctx.get("content-length"));
    if (Number.isFinite(declared) && declared > options.maxFileBytes + FRAMING_SLACK) {
      throw new HttpError(413, {
        error: "File too large",
        message: `The largest accepted file is ${options.maxFileBytes} bytes`,
      });
    }
    const dir = path.join(options.uploadDir, `upload-${randomUUID()}`);
    fs.mkdirSync(dir, { recursive: true });
    try {
      const parse = koaBody({
        multipart: true,
        json: false,
        urlencoded: false,
        text: false,
        formidable: {
          uploadDir: dir,
          maxFileSize: options.maxFileBytes,
          maxTotalFileSize: options.maxFileBytes,
          maxFiles: 1,
          maxFields: 20,
          maxFieldsSize: 64 * 1024,
          allowEmptyFiles: false,
          minFileSize: 1,
        },
      });
      try {
        await parse(ctx, async () => undefined);
      } catch (err) {
        throw multipartError(err, options.maxFileBytes) ?? err;
      }
      await next();
    } finally {
      // Whatever the outcome, no upload outlives its request (a handler copies what it wants to keep).
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** The file sent in multipart field `field`, if any (the first one when several were sent). */
export function uploadedFile(ctx: Koa.Context, field: string): UploadedFile | null {
  const entry = ctx.request.files?.[field];
  const file = Array.isArray(entry) ? entry[0] : entry;
  if (!file) return null;
  return { path: file.filepath, originalName: file.originalFilename ?? null, size: file.size };
}
