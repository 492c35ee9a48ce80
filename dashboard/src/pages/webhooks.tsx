import { useState } from 'preact/hooks';
import { answer, api } from '../api.ts';
import { DataTable, ErrorNote, MerchantSelect, num, StatusBadge, useMerchants } from '../components.tsx';
import { formatTime } from '../format.ts';
import { usePolled } from '../hooks.ts';
import type { List, WebhookEndpoint } from '../types.ts';

export function Webhooks() {
  const merchants = useMerchants();
  const [merchantId, setMerchantId] = useState('');
  const list = usePolled(() => answer(api.GET('/v1/admin/webhook_endpoints', { params: { query: merchantId ? { merchant_id: merchantId } : {} } })), [merchantId], 5000);
  const rows = list.data?.data ?? [];
  const names = new Map(merchants.map((m) => [m.id, m.name]));

  return (
    <div class="page">
      <h2>Webhook endpoints</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <MerchantSelect value={merchantId} onChange={setMerchantId} merchants={merchants} />
      </form>
      <ErrorNote error={list.error} />
      <DataTable label="Webhook endpoints" testId="webhooks-table" columns={['Endpoint', 'Merchant', 'URL', 'Events', 'Status', num('Pending'), num('Delivered'), num('Failed'), 'Last delivery']} empty={rows.length === 0 && !list.loading ? 'No webhook endpoints.' : null}>
        {rows.map((w) => (
          <tr key={w.id} data-id={w.id}>
            <td class="mono">{w.id}</td>
            <td>{names.get(w.merchant_id) ?? w.merchant_id}</td>
            <td class="mono wrap">{w.url}</td>
            <td class="small">{w.enabled_events.join(', ')}</td>
            <td>
              <StatusBadge status={w.status} />
            </td>
            <td class="num">{w.deliveries.pending}</td>
            <td class="num">{w.deliveries.succeeded}</td>
            <td class={`num ${w.deliveries.failed > 0 ? 'warn' : ''}`}>{w.deliveries.failed}</td>
            <td>{formatTime(w.last_delivery_at)}</td>
          </tr>
        ))}
      </DataTable>
    </div>
  );
}
