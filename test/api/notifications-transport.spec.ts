import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import { fromOf, textToHtml, transportOptions } from "../../server/src/notifications/email-transport";
import type { SmtpConfig } from "../../server/src/notifications/notification-config";
import { NtfyError, ntfyPublishUrl, sendNtfy } from "../../server/src/notifications/ntfy-transport";
import { closedPort } from "./notifications-support";

/** The transports on their own, against real local sockets: retries, timeouts, cancellation, URL and HTML shapes. */

const MSG = { title: "Tïtle ✅ & more", message: "body ✓", priority: "high", tags: " a , b,, c " };

async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("ntfy transport", () => {
  it("builds the publish URL: no double slash, encoded title, ntfy's tag list", () => {
    const url = ntfyPublishUrl({ url: "https://ntfy.example.com/base//", topic: "my-topic" }, MSG);
    expect(url.origin + url.pathname).to.equal("https://ntfy.example.com/base/my-topic");
    expect(url.searchParams.get("title")).to.equal("Tïtle ✅ & more");
    expect(url.searchParams.get("priority")).to.equal("high");
    expect(url.searchParams.get("tags")).to.equal("a,b,c");
    const bare = ntfyPublishUrl({ url: "https://ntfy.sh", topic: "t" }, { title: " ", priority: "", tags: "" });
    expect(bare.search).to.equal("");
  });

  it("retries network failures (a reset connection) and succeeds", async () => {
    let hits = 0;
    const bodies: string[] = [];
    const srv = await listen((req, res) => {
      hits++;
      if (hits <= 2) {
        req.socket.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push(Buffer.concat(chunks).toString("utf8"));
        res.end("{}");
      });
    });
    try {
      const started = Date.now();
      const r = await sendNtfy({ url: srv.url, topic: "t", accessToken: "" }, MSG, { retryDelayMs: 20, attempts: 5 });
      expect(r.attempts).to.equal(3);
      expect(bodies).to.deep.equal(["body ✓"]);
      expect(Date.now() - started).to.be.below(2000);
    } finally {
      await srv.close();
    }
  });

  it("gives up after the configured tries on a refused connection", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    try {
      await sendNtfy({ url, topic: "t", accessToken: "" }, MSG, { retryDelayMs: 5, attempts: 3 });
      expect.fail("should have failed");
    } catch (err) {
      expect(err).to.be.instanceOf(NtfyError);
      expect((err as NtfyError).attempts).to.equal(3);
      expect((err as Error).message).to.match(/connection refused\) \(after 3 tries\)$/);
    }
  });

  it("times out a try that gets no answer, and retries it", async () => {
    let hits = 0;
    const srv = await listen(() => {
      hits++; // never answers
    });
    try {
      await sendNtfy({ url: srv.url, topic: "t", accessToken: "" }, MSG, {
        retryDelayMs: 5,
        attempts: 2,
        timeoutMs: 100,
      });
      expect.fail("should have failed");
    } catch (err) {
      expect((err as Error).message).to.match(/did not answer in time \(after 2 tries\)$/);
      expect(hits).to.equal(2);
    } finally {
      await srv.close();
    }
  });

  it("does not retry an HTTP error, and explains ntfy's rate limit", async () => {
    let hits = 0;
    const srv = await listen((_req, res) => {
      hits++;
      res.statusCode = 429;
      res.end(JSON.stringify({ code: 42901, http: 429, error: "limit reached" }));
    });
    try {
      await sendNtfy({ url: srv.url, topic: "t", accessToken: "" }, MSG, { retryDelayMs: 5 });
      expect.fail("should have failed");
    } catch (err) {
      expect((err as NtfyError).status).to.equal(429);
      expect((err as Error).message).to.equal("ntfy is rate limiting this sender (HTTP 429); try again later");
      expect(hits).to.equal(1);
    } finally {
      await srv.close();
    }
  });

  it("stops waiting between tries when cancelled (plugin stop)", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const controller = new AbortController();
    const started = Date.now();
    const sending = sendNtfy({ url, topic: "t", accessToken: "" }, MSG, {
      retryDelayMs: 60_000,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    try {
      await sending;
      expect.fail("should have failed");
    } catch (err) {
      expect((err as Error).message).to.equal("Sending to ntfy was cancelled");
      expect(Date.now() - started).to.be.below(2000);
    }
  });

  it("refuses an empty URL or topic without sending", async () => {
    for (const target of [
      { url: "", topic: "t", accessToken: "" },
      { url: "http://127.0.0.1:1", topic: " ", accessToken: "" },
    ]) {
      try {
        await sendNtfy(target, MSG);
        expect.fail("should have failed");
      } catch (err) {
        expect((err as Error).message).to.equal("NTFY URL and topic are required");
      }
    }
  });
});

describe("e-mail transport", () => {
  const cfg: SmtpConfig = {
    host: "smtp.example.com",
    port: 587,
    connectionType: "starttls",
    username: "user@example.com",
    password: "pw",
    mailto: "ops@example.com",
    senderName: "",
    fromAddress: "",
    requireAuth: true,
  };

  it("maps the connection types to nodemailer's options", () => {
    expect(transportOptions({ ...cfg, connectionType: "plain", requireAuth: false })).to.deep.include({
      secure: false,
      ignoreTLS: true,
    });
    expect(transportOptions({ ...cfg, connectionType: "plain", requireAuth: false })).not.to.have.property("auth");
    expect(transportOptions(cfg)).to.deep.include({
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false, minVersion: "TLSv1.2" },
      auth: { user: "user@example.com", pass: "pw" },
    });
    expect(transportOptions({ ...cfg, connectionType: "ssl" })).to.deep.include({ secure: true });
    expect(transportOptions(cfg)).to.include({
      connectionTimeout: 20_000,
      greetingTimeout: 20_000,
      socketTimeout: 20_000,
    });
  });

  it("sends from the sender name (or duplistatus) and the from address (or the username)", () => {
    expect(fromOf(cfg)).to.deep.equal({ name: "duplistatus", address: "user@example.com" });
    expect(fromOf({ ...cfg, senderName: "Ops", fromAddress: "alerts@example.com" })).to.deep.equal({
      name: "Ops",
      address: "alerts@example.com",
    });
    expect(() => fromOf({ ...cfg, username: "user" })).to.throw(/No sender address/);
  });

  it("makes a simple, escaped HTML version of the text", () => {
    const html = textToHtml("Hi <there> & **bold** and *it*\nsee https://nas.local:8200/ngax/index.html?x=1&y=2");
    expect(html).to.include("Hi &lt;there&gt; &amp; <strong>bold</strong> and <em>it</em><br>");
    expect(html).to.include('<a href="https://nas.local:8200/ngax/index.html?x=1&amp;y=2">');
  });
});
