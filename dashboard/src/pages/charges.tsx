import { DataTable, ErrorNote, FilterBar, num, Pager, StatusBadge, useFilteredList } from '../components.tsx';
import { formatTime } from '../format.ts';
import { formatAmount } from '../money.ts';
import { chargeHref } from '../route.ts';
import type { Charge } from '../types.ts';

const PAGE_SIZE = 25;

export function Charges() {
  const { merchants, filters, setFilters, statuses, pages, list, rows, names } = useFilteredList<Charge>('/v1/admin/charges', PAGE_SIZE);

  return (
    <div class="page">
      <h2>Charges</h2>
      <FilterBar filters={filters} onChange={setFilters} merchants={merchants} statuses={statuses} />
      <ErrorNote error={list.error} />
      <DataTable label="Charges" testId="charges-table" columns={['Charge', 'Merchant', num('Amount'), num('Refunded'), 'Status', 'Payment method', 'Created']} empty={rows.length === 0 && !list.loading ? 'No charges match.' : null}>
        {rows.map((c) => (
          <tr key={c.id} data-id={c.id}>
            <td>
              <a href={chargeHref(c.id)} class="mono">
                {c.id}
              </a>
            </td>
            <td>{c.merchant_id ? (names.get(c.merchant_id) ?? c.merchant_id) : '—'}</td>
            <td class="num">{formatAmount(c.amount, c.currency)}</td>
            <td class="num">{c.amount_refunded > 0 ? formatAmount(c.amount_refunded, c.currency) : '—'}</td>
            <td>
              <StatusBadge status={c.status} />
              {c.failure_code ? <span class="muted small"> {c.failure_code}</span> : null}
            </td>
            <td class="mono">{c.payment_method}</td>
            <td>{formatTime(c.created_at)}</td>
          </tr>
        ))}
      </DataTable>
      <Pager page={pages.page} hasMore={list.data?.has_more ?? false} lastId={rows[rows.length - 1]?.id} onNext={pages.next} onPrevious={pages.previous} />
    </div>
  );
}
