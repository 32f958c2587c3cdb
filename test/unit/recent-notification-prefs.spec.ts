import { expect } from "chai";
import {
  type ResolvedNotificationPrefs,
  RecentNotificationPrefs,
} from "../../server/src/monitoring/notification-prefs";

const prefs = (event: ResolvedNotificationPrefs["notificationEvent"]): ResolvedNotificationPrefs => ({
  notificationEvent: event,
  ntfyEnabled: true,
  emailEnabled: true,
  additionalNotificationEvent: event,
  additionalEmails: [],
  additionalNtfyTopic: null,
});

describe("RecentNotificationPrefs (what upload transactions read, for their notices)", () => {
  let now = 0;
  const recent = () => new RecentNotificationPrefs(() => now, 1000);

  beforeEach(() => {
    now = 10_000;
  });

  it("answers within the window and not after it", () => {
    const r = recent();
    r.remember("a", prefs("all"));
    now += 999;
    expect(r.get("a")?.notificationEvent).to.equal("all");
    now += 1;
    expect(r.get("a")).to.equal(undefined);
  });

  it("keeps the newest value of a job, with a window counted from it", () => {
    const r = recent();
    r.remember("a", prefs("all"));
    now += 600;
    r.remember("a", prefs("errors"));
    now += 600;
    expect(r.get("a")?.notificationEvent).to.equal("errors");
  });

  it("forgets everything on clear (a change of preferences)", () => {
    const r = recent();
    r.remember("a", prefs("all"));
    r.remember("b", prefs("off"));
    r.clear();
    expect(r.get("a")).to.equal(undefined);
    expect(r.get("b")).to.equal(undefined);
  });

  it("drops expired entries as new ones come, so it holds about one window of uploads", () => {
    const r = recent();
    for (let i = 0; i < 100; i++) r.remember(`old-${i}`, prefs("all"));
    now += 1000;
    for (let i = 0; i < 300; i++) r.remember(`new-${i}`, prefs("all"));
    const keys = [...(r as unknown as { entries: Map<string, unknown> }).entries.keys()];
    expect(keys.filter((k) => k.startsWith("old-"))).to.deep.equal([]);
    expect(keys).to.have.length(300);
  });
});
