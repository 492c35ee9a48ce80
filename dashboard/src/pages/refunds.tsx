import { useState } from 'preact/hooks';
import { query, request } from '../api.ts';
import { createdRange, emptyFilters, ErrorNote, FilterBar, Pager, StatusBadge, TableWrap, useCursorPages, useMerchants, type ListFilters } from '../components.tsx';
import { formatTime } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { formatAmount } from '../money.ts';
import { chargeHref } from '../route.ts';
import type { List, Refund } from '../types.ts';

const PAGE_SIZE = 25;

export function Refunds() {
  const merchants = useMerchants();
  const [filters, setFilters] = useState<ListFilters>(emptyFilters);
  const filterKey = JSON.stringify(filters);
  const pages = useCursorPages(filterKey);
  const list = usePolled(
    () =>
      request<List<Refund>>(
        '/v1/admin/refunds' +
          query({ merchant_id: filters.merchant_id, status: filters.status, currency: filters.currency, ...createdRange(filters), limit: PAGE_SIZE, starting_after: pages.cursor }),
      ),
    [filterKey, pages.cursor],
    2000,
  );
  const rows = list.data?.data ?? [];
  const names = new Map(merchants.map((m) => [m.id, m.name]));

  return (
    <div class="page">
      <h2>Refunds</h2>
      <FilterBar filters={filters} onChange={setFilters} merchants={merchants} />
      <ErrorNote error={list.error} />
      <TableWrap label="Refunds">
        <table data-testid="refunds-table">
          <thead>
            <tr>
              <th>Refund</th>
              <th>Charge</th>
              <th>Merchant</th>
              <th class="num">Amount</th>
              <th>Status</th>
              <th>Reason</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-id={r.id}>
                <td class="mono">{r.id}</td>
                <td>
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
            {rows.length === 0 && !list.loading ? (
              <tr>
                <td colSpan={7} class="muted">
                  No refunds match.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </TableWrap>
      <Pager page={pages.page} hasMore={list.data?.has_more ?? false} lastId={rows[rows.length - 1]?.id} onNext={pages.next} onPrevious={pages.previous} />
    </div>
  );
}
