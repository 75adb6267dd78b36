/**
 * Several engine events in one batch can touch the same stored row (opened then closed, or a
 * start moved twice). They are folded into one write per row: insert (new), update (keyed by
 * the stored start id) or delete, applied as the net effect.
 */
export interface RowWrite<T> {
  deviceId: string;
  /** what else identifies the row (the line for outages) */
  scope: string;
  /** start id of the row as stored before this batch; null = not stored yet */
  storedKey: string | null;
  latest: T | null; // null = removed
}

export class WriteCoalescer<T> {
  private readonly rows = new Map<string, RowWrite<T>>();
  private readonly current = (deviceId: string, scope: string, key: string) => `${deviceId}|${scope}|${key}`;

  /** `prevKey` = the row's start id before this event (null for a new row); `next` its new version (null = removed). */
  apply(deviceId: string, scope: string, prevKey: string | null, nextKey: string | null, next: T | null): void {
    let entry: RowWrite<T> | undefined;
    if (prevKey !== null) {
      const k = this.current(deviceId, scope, prevKey);
      entry = this.rows.get(k);
      this.rows.delete(k);
      entry ??= { deviceId, scope, storedKey: prevKey, latest: null };
    } else if (nextKey !== null) {
      entry = this.rows.get(this.current(deviceId, scope, nextKey));
    }
    entry ??= { deviceId, scope, storedKey: null, latest: null };
    entry.latest = next;
    const key = nextKey ?? prevKey;
    if (key !== null) this.rows.set(this.current(deviceId, scope, key), entry);
  }

  writes(): { inserts: RowWrite<T>[]; updates: RowWrite<T>[]; deletes: RowWrite<T>[] } {
    const inserts: RowWrite<T>[] = [];
    const updates: RowWrite<T>[] = [];
    const deletes: RowWrite<T>[] = [];
    for (const w of this.rows.values()) {
      if (w.latest === null) {
        if (w.storedKey !== null) deletes.push(w);
      } else if (w.storedKey === null) inserts.push(w);
      else updates.push(w);
    }
    return { inserts, updates, deletes };
  }
}
