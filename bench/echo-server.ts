import Koa from "koa";
import { koaBody } from "koa-body";

/**
 * The baseline: a bare Koa app with koa-body's JSON parser that answers every POST with {ok:true}. It bounds what
 * any Koa JSON endpoint can do on this machine with this load generator; ingestion is reported relative to it.
 */
const app = new Koa();
app.use(koaBody({ json: true, jsonLimit: "5mb", urlencoded: false, text: false, multipart: false }));
app.use((ctx) => {
  if (ctx.method === "POST") ctx.body = { ok: true };
  else ctx.body = { ready: true };
});

const server = app.listen(Number(process.env.PORT), process.env.HOST ?? "127.0.0.1");
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
