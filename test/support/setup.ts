import { dropAllTestDatabases } from "./postgres";

// Test-wide defaults: quiet logs and response validation on (NODE_ENV=test turns it on).
process.env.NODE_ENV = process.env.NODE_ENV ?? "test";
process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? "silent";
process.env.TZ = process.env.TZ ?? "UTC";

/** PostgreSQL mode: the databases still left (folders the tests kept) are dropped at the end of the run. */
export const mochaHooks = {
  async afterAll(): Promise<void> {
    await dropAllTestDatabases();
  },
};
