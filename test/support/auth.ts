import { expect } from "chai";
import type { TestServer } from "./server";

/** The admin password test servers start with (startTestServer passes it as ADMIN_PASSWORD). */
export const TEST_ADMIN_PASSWORD = "Test-Admin-Passw0rd";

export interface BrowserSession {
  cookie: string;
  csrf: string;
  /** fetch with the session cookie, and X-CSRF-Token on state-changing methods. */
  request(pathname: string, init?: RequestInit): Promise<Response>;
  json(method: string, pathname: string, body?: unknown): Promise<Response>;
}

function cookieFrom(res: Response): string | undefined {
  const all = res.headers.getSetCookie();
  const line = all.find((c) => c.startsWith("sessionId="));
  return line?.split(";")[0];
}

/** Logs in through the real endpoints: GET /api/csrf → POST /api/auth/login → GET /api/csrf for the new session. */
export async function login(
  server: TestServer,
  username = "admin",
  password = TEST_ADMIN_PASSWORD,
): Promise<BrowserSession> {
  const first = await server.request("/api/csrf");
  expect(first.status).to.equal(200);
  const anonCookie = cookieFrom(first);
  const { token } = (await first.json()) as { token: string };
  const res = await server.request("/api/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrf-token": token, cookie: anonCookie ?? "" },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const cookie = cookieFrom(res);
  if (!cookie) throw new Error("login set no sessionId cookie");
  const csrfRes = await server.request("/api/csrf", { headers: { cookie } });
  const { token: csrf } = (await csrfRes.json()) as { token: string };
  const request = (pathname: string, init: RequestInit = {}) => {
    const method = (init.method ?? "GET").toUpperCase();
    const headers = new Headers(init.headers);
    headers.set("cookie", cookie);
    if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers.set("x-csrf-token", csrf);
    return server.request(pathname, { ...init, headers });
  };
  return {
    cookie,
    csrf,
    request,
    json: (method, pathname, body) =>
      request(pathname, {
        method,
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
  };
}
