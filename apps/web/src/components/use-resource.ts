/**
 * The state every admin page keeps: the inline message, which row is being edited, and a
 * reload counter that the lists follow; plus load, save-result and confirm-delete helpers.
 */
import { useEffect, useState } from 'preact/hooks';

export interface AdminState {
  msg: string | null;
  setMsg: (m: string | null) => void;
  editing: string | null;
  setEditing: (id: string | null) => void;
  /** Bumped by refresh(); lists and keyed "new" forms follow it. */
  reload: number;
  refresh: () => void;
  /** A load failed: show the API's message. */
  fail: (err: Error) => void;
  /** Show a save result; unless it starts with "Not", close the edit form (when `close`) and reload. */
  done: (m: string, close?: boolean) => void;
  /** Ask `question`; on yes run the delete, then done(ok, close) or "<failed>: <API message>". */
  remove: (
    question: string,
    run: () => Promise<unknown>,
    ok: string,
    opts?: { close?: boolean; failed?: string },
  ) => Promise<void>;
}

export function useAdmin(): AdminState {
  const [msg, setMsg] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const refresh = () => setReload((n) => n + 1);
  const done = (m: string, close = true) => {
    setMsg(m);
    if (!m.startsWith('Not')) {
      if (close) setEditing(null);
      refresh();
    }
  };
  const remove: AdminState['remove'] = async (question, run, ok, { close = true, failed = 'Not deleted' } = {}) => {
    if (!confirm(question)) return;
    try {
      await run();
      done(ok, close);
    } catch (err) {
      setMsg(`${failed}: ${(err as Error).message}`);
    }
  };
  return { msg, setMsg, editing, setEditing, reload, refresh, fail: (err) => setMsg(err.message), done, remove };
}

/** Rows from `load`, fetched again on every refresh of `admin` (not at all while `when` is false). */
export function useList<T>(admin: AdminState, load: () => Promise<T[]>, when = true): T[] {
  const [rows, setRows] = useState<T[]>([]);
  // Reloads follow the counter only (load and fail are new functions on every render).
  useEffect(() => {
    if (when) load().then(setRows, admin.fail);
  }, [admin.reload]);
  return rows;
}

/** preventDefault a form's submit event; its element and its data. */
export function submitted(e: Event): { el: HTMLFormElement; f: FormData } {
  e.preventDefault();
  const el = e.currentTarget as HTMLFormElement;
  return { el, f: new FormData(el) };
}
