import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` now, again whenever `deps` change, and every `everyMs` while the page is open
 * (0: only on demand). A slow answer never overwrites a newer one.
 */
export function usePolled<T>(load: () => Promise<T>, deps: unknown[], everyMs = 0): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    setData(undefined);
  }, deps);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      const ticket = ++latest.current;
      setLoading(true);
      try {
        const value = await loadRef.current();
        if (!stopped && ticket === latest.current) {
          setData(value);
          setError(undefined);
        }
      } catch (e) {
        if (!stopped && ticket === latest.current) setError(e instanceof ApiError ? e : new ApiError(0, 'client_error', 'client_error', String(e)));
      } finally {
        if (!stopped && ticket === latest.current) setLoading(false);
        if (!stopped && everyMs > 0) timer = setTimeout(run, everyMs);
      }
    };
    void run();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [...deps, tick, everyMs]);

  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}
