import type { AuditActor, AuditService } from "../audit/audit-service";
import { REQUIRE_KEYS_SETTING, type SessionAndTokenPolicy } from "../auth/access-policy";
import type { Database } from "../db/database";
import { getConfigValue, setConfigValue } from "../store/configuration-store";

/**
 * The "require keys for the external endpoints" switch (contract §6). Stored as "true"/"false" under
 * require_api_keys; while unset, REQUIRE_API_KEYS from the environment decides. The access policy reads it.
 */
export class ApiKeySetting {
  constructor(
    private readonly deps: { db: Database; audit: AuditService; access: SessionAndTokenPolicy; envDefault: boolean },
  ) {}

  async get(): Promise<boolean> {
    const raw = await this.deps.db.read((q) => getConfigValue(q, REQUIRE_KEYS_SETTING));
    return raw === null ? this.deps.envDefault : raw === "true";
  }

  async set(value: boolean, actor: AuditActor): Promise<boolean> {
    await this.deps.db.write(async (q) => {
      const raw = await getConfigValue(q, REQUIRE_KEYS_SETTING);
      const oldValue = raw === null ? this.deps.envDefault : raw === "true";
      await setConfigValue(q, REQUIRE_KEYS_SETTING, String(value));
      await this.deps.audit.recordIn(q, {
        ...actor,
        action: "require_api_keys_updated",
        category: "config",
        targetType: "configuration",
        targetId: REQUIRE_KEYS_SETTING,
        details: { oldValue, newValue: value },
      });
    });
    // This instance applies the change at once; others within the policy's short cache time.
    this.deps.access.invalidate();
    return value;
  }
}
