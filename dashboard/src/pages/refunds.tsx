import { DataTable, ErrorNote, FilterBar, num, Pager, StatusBadge, useFilteredList } from '../components.tsx';
import { formatTime } from '../format.ts';
import { formatAmount } from '../money.ts';
import { chargeHref } from '../route.ts';
import type { Refund } from '../types.ts';

const PAGE_SIZE = 25;

export function Refunds() {
  const { merchants, filters, setFilters, statuses, pages, list, rows, names } = useFilteredList<Refund>('/v1/admin/refunds', PAGE_SIZE);

  return (
    <div class="page">
      <h2>Refunds</h2>
      <FilterBar filters={filters} onChange={setFilters} merchants={merchants} statuses={statuses} />
      <ErrorNote error={list.error} />
      <DataTable label="Refunds" testId="refunds-table" columns={['Refund', 'Charge', 'Merchant', num('Amount'), 'Status', 'Reason', 'Created']} empty={rows.length === 0 && !list.loading ? 'No refunds match.' : null}>
        {rows.map((r) => (
          <tr key={r.id} data-id={r.id}>
            <td class="mono id">{r.id}</td>
            <td class="id">
              <a href={chargeHref(r.charge_id)} class="mono">
                {r.charge_id}
              </a>
            </td>
            <td>{r.merchant_id ? (names.get(r.merchant_id) ?? r.merchant_id) : '—'}</td>
            <td class="num">{formatAmount(r.amount, r.currency)}</td>
            <td>
              <StatusBadge status={r.status} />
              {r.failure_reason ? <span class="muted small"> {r.failure_reason}</span> : null}
            </td>
            <td>{r.reason ?? '—'}</td>
            <td>{formatTime(r.created_at)}</td>
          </tr>
        ))}
      </DataTable>
      <Pager page={pages.page} hasMore={list.data?.has_more ?? false} lastId={rows[rows.length - 1]?.id} onNext={pages.next} onPrevious={pages.previous} />
    </div>
  );
}
