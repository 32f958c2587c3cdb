import React, { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Alert, InlineField, Input, SecretInput, Stack } from '@grafana/ui';

import type { DuplistatusOptions, DuplistatusSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<DuplistatusOptions, DuplistatusSecureJsonData>;

/**
 * Server URL and API token. The token goes to secureJsonData: Grafana encrypts it, never sends it back to the
 * browser, and adds it to each proxied request through the plugin.json route (Authorization: Bearer …).
 */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { secureJsonFields, secureJsonData } = options;

  const onUrlChange = (event: ChangeEvent<HTMLInputElement>) => {
    // "proxy" access: requests go through Grafana's server, the only place the token is decrypted.
    onOptionsChange({ ...options, url: event.target.value.trim().replace(/\/+$/, ''), access: 'proxy' });
  };

  const onTokenChange = (event: ChangeEvent<HTMLInputElement>) => {
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, apiToken: event.target.value } });
  };

  const onTokenReset = () => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, apiToken: false },
      secureJsonData: { ...secureJsonData, apiToken: '' },
    });
  };

  return (
    <Stack direction="column" gap={1}>
      <InlineField
        label="URL"
        labelWidth={16}
        interactive
        tooltip="duplistatus address as Grafana's server reaches it, e.g. http://duplistatus:9666"
      >
        <Input
          id="config-editor-url"
          width={40}
          value={options.url ?? ''}
          placeholder="http://duplistatus:9666"
          onChange={onUrlChange}
        />
      </InlineField>
      <InlineField
        label="API token"
        labelWidth={16}
        interactive
        tooltip="A duplistatus API token with scope read (create it under Settings → API tokens, or POST /api/tokens)"
      >
        <SecretInput
          id="config-editor-api-token"
          width={40}
          isConfigured={Boolean(secureJsonFields?.apiToken)}
          value={secureJsonData?.apiToken ?? ''}
          placeholder="read-scope API token"
          onReset={onTokenReset}
          onChange={onTokenChange}
        />
      </InlineField>
      {!options.url && (
        <Alert severity="info" title="Where to find the values">
          Use the address of your duplistatus server (port 9666 by default) and a token with scope &quot;read&quot;. The
          token is stored encrypted and only Grafana&apos;s server sends it to duplistatus.
        </Alert>
      )}
    </Stack>
  );
}
