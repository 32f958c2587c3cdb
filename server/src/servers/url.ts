import { badRequest } from "../core/errors";

/**
 * Checks a Duplicati UI address: "" clears it; anything else must be an absolute http:// or https:// URL. Returns
 * the value trimmed. A bad value is a 400 with the original's texts (the original answered 404 from PATCH
 * /api/servers/:id).
 */
export function checkServerUrl(value: string): string {
  const url = value.trim();
  if (url === "") return "";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest("Invalid URL format", { message: `"${url}" is not an absolute URL (e.g. http://host:8200)` });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw badRequest("URL must use HTTP or HTTPS protocol", { message: `"${parsed.protocol}" URLs are not accepted` });
  }
  return url;
}
