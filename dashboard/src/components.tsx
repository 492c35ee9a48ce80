import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { answer, api, type ApiError } from './api.ts';
import { usePolled } from './hooks.ts';
import { CHARGE_STATUSES, REFUND_STATUSES } from '../../src/domain/status.ts';
import type { List, Merchant, Status } from './types.ts';

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`} data-status={status}>{status}</span>;
}

export function ErrorNote({ error }: { error: ApiError | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.status ? `${error.status} ${error.type}` : error.type}: {error.message}
    </p>
  );
}

/** Wide tables scroll inside this box, never the page. */
export function TableWrap({ children, label }: { children: ComponentChildren; label: string }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/** A header cell: plain text, or a right-aligned numeric column (`num('Amount')`). */
export type Column = string | { label: string; numeric: true };

export const num = (label: string): Column => ({ label, numeric: true });

/**
 * A table in its scrolling box: the header row, the rows, and one muted line (`empty`) spanning
 * every column when there is nothing to show.
 */
export function DataTable({ label, testId, columns, empty, children }: { label: string; testId: string; columns: Column[]; empty: string | null; children: ComponentChildren }) {
  return (
    <TableWrap label={label}>
      <table data-testid={testId}>
        <thead>
          <tr>
            {columns.map((c, i) => (typeof c === 'string' ? <th key={i}>{c}</th> : <th key={i} class="num">{c.label}</th>))}
          </tr>
        </thead>
        <tbody>
          {children}
          {empty !== null ? (
            <tr>
              <td colSpan={columns.length} class="muted">
                {empty}
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </TableWrap>
  );
}

export function Card({ title, children, testId }: { title: string; children: ComponentChildren; testId?: string }) {
  return (
    <section class="card" data-testid={testId}>
      <h3>{title}</h3>
      {children}
    </section>
  );
}

/** The merchants, loaded once per page for the merchant filters. */
export function useMerchants(): Merchant[] {
  const merchants = usePolled(() => answer(api.GET('/v1/admin/merchants')), []);
  return merchants.data?.data ?? [];
}

export function MerchantSelect({ value, onChange, merchants }: { value: string; onChange: (v: string) => void; merchants: Merchant[] }) {
  return (
    <label>
      Merchant
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">All merchants</option>
        {merchants.map((m) => (
          <option key={m.id} value={m.id}>
            {m.name} ({m.id})
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * Cursor paging as the API does it: page n+1 starts after the last id of page n; going back
 * pops the cursor that led here.
 */
export function useCursorPages(resetKey: string) {
  const [state, setState] = useState<{ key: string; cursors: (string | undefined)[] }>({ key: resetKey, cursors: [undefined] });
  const cursors = state.key === resetKey ? state.cursors : [undefined];
  if (state.key !== resetKey) setState({ key: resetKey, cursors });
  return {
    cursor: cursors[cursors.length - 1],
    page: cursors.length,
    next: (lastId: string) => setState({ key: resetKey, cursors: [...cursors, lastId] }),
    previous: () => setState({ key: resetKey, cursors: cursors.length > 1 ? cursors.slice(0, -1) : cursors }),
  };
}

export function Pager({ page, hasMore, lastId, onNext, onPrevious }: { page: number; hasMore: boolean; lastId: string | undefined; onNext: (id: string) => void; onPrevious: () => void }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" onClick={onPrevious} disabled={page <= 1}>
        ← Previous
      </button>
      <span>Page {page}</span>
      <button type="button" onClick={() => lastId && onNext(lastId)} disabled={!hasMore || !lastId}>
        Next →
      </button>
    </nav>
  );
}

export interface ListFilters {
  merchant_id: string;
  status: string;
  currency: string;
  from: string;
  to: string;
}

export const emptyFilters: ListFilters = { merchant_id: '', status: '', currency: '', from: '', to: '' };

/** created[gte]/created[lte] from the date inputs, read as whole days in the operator's time zone. */
export function createdRange(filters: ListFilters): { 'created[gte]'?: string; 'created[lte]'?: string } {
  const range: { 'created[gte]'?: string; 'created[lte]'?: string } = {};
  if (filters.from) range['created[gte]'] = new Date(`${filters.from}T00:00:00`).toISOString();
  if (filters.to) range['created[lte]'] = new Date(`${filters.to}T23:59:59.999`).toISOString();
  return range;
}

/** `statuses`: what the list's status filter offers, the object's own (useFilteredList's `statuses`). */
export function FilterBar({ filters, onChange, merchants, statuses }: { filters: ListFilters; onChange: (f: ListFilters) => void; merchants: Merchant[]; statuses: readonly Status[] }) {
  const set = (patch: Partial<ListFilters>) => onChange({ ...filters, ...patch });
  return (
    <form class="filters" onSubmit={(e) => e.preventDefault()}>
      <MerchantSelect value={filters.merchant_id} onChange={(merchant_id) => set({ merchant_id })} merchants={merchants} />
      <label>
        Status
        <select value={filters.status} onChange={(e) => set({ status: e.currentTarget.value })}>
          <option value="">Any</option>
          {statuses.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </label>
      <label>
        Currency
        <input
          value={filters.currency}
          maxLength={3}
          size={4}
          placeholder="usd"
          pattern="[A-Za-z]{3}"
          onChange={(e) => {
            const value = e.currentTarget.value.trim().toLowerCase();
            if (value === '' || /^[a-z]{3}$/.test(value)) set({ currency: value });
          }}
        />
      </label>
      <label>
        From
        <input type="date" value={filters.from} onChange={(e) => set({ from: e.currentTarget.value })} />
      </label>
      <label>
        To
        <input type="date" value={filters.to} onChange={(e) => set({ to: e.currentTarget.value })} />
      </label>
      <button type="button" class="secondary" onClick={() => onChange(emptyFilters)}>
        Clear
      </button>
    </form>
  );
}

/**
 * A cross-merchant list page's state: the filter bar, cursor paging, and the page of rows,
 * refreshed every 2 s (a pending charge or refund turns terminal in place).
 */
export function useFilteredList<T>(path: '/v1/admin/charges' | '/v1/admin/refunds', pageSize: number) {
  // The domain's lists (src/domain/status.ts), the same the API's status enum derives from: a
  // refund can be canceled, a charge cannot.
  const statuses: readonly Status[] = path === '/v1/admin/charges' ? CHARGE_STATUSES : REFUND_STATUSES;
  const merchants = useMerchants();
  const [filters, setFilters] = useState<ListFilters>(emptyFilters);
  const filterKey = JSON.stringify(filters);
  const pages = useCursorPages(filterKey);
  const list = usePolled(
    () =>
      answer(
        api.GET(path, {
          params: {
            query: {
              limit: pageSize,
              ...(filters.merchant_id ? { merchant_id: filters.merchant_id } : {}),
              ...(filters.status ? { status: filters.status as Status } : {}),
              ...(filters.currency ? { currency: filters.currency } : {}),
              ...createdRange(filters),
              ...(pages.cursor ? { starting_after: pages.cursor } : {}),
            },
          },
        }),
      ) as Promise<List<T>>,
    [filterKey, pages.cursor],
    2000,
  );
  return { merchants, filters, setFilters, statuses, pages, list, rows: list.data?.data ?? [], names: new Map(merchants.map((m) => [m.id, m.name])) };
}
