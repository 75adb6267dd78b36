/** The pieces of the admin pages' lists: message line, table, edit row, row tools, badges. */
import type { ComponentChildren } from 'preact';

/** The inline result/error line under a page's heading. */
export function Notice({ msg, testId }: { msg: string | null; testId?: string }) {
  return msg ? (
    <p class="notice" role="status" data-testid={testId}>
      {msg}
    </p>
  ) : null;
}

/** A list table; `tools` adds the empty header of the edit/delete column. */
export function AdminTable({
  testId,
  cols,
  tools,
  children,
}: {
  testId: string;
  cols: string[];
  tools?: boolean;
  children: ComponentChildren;
}) {
  return (
    <div class="table-wrap">
      <table data-testid={testId}>
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c}>{c}</th>
            ))}
            {tools && <th />}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** A row that holds an edit form across the whole table width. */
export function EditRow({ span, children }: { span: number; children: ComponentChildren }) {
  return (
    <tr>
      <td colSpan={span}>{children}</td>
    </tr>
  );
}

/** The Edit and Delete buttons of a row (only rendered for those who may edit); no Delete without onDelete. */
export function RowTools({ onEdit, onDelete }: { onEdit: () => void; onDelete?: () => void }) {
  return (
    <td>
      <div class="toolbar">
        <button type="button" class="small" onClick={onEdit}>
          Edit
        </button>
        {onDelete && (
          <button type="button" class="small danger" onClick={onDelete}>
            Delete
          </button>
        )}
      </div>
    </td>
  );
}

/** An on/off badge: "ok" when on, `offClass` (default "unknown") when off. */
export function StateBadge({
  on,
  onText,
  offText,
  offClass = 'unknown',
}: {
  on: boolean;
  onText: string;
  offText: string;
  offClass?: string;
}) {
  return <span class={`badge ${on ? 'ok' : offClass}`}>{on ? onText : offText}</span>;
}

/** The API's warnings about a row (e.g. e-mail is off), one line each. */
export function Warnings({ list }: { list?: string[] }) {
  return (
    <>
      {list?.map((w) => (
        <div key={w} class="small warn" role="note">
          ⚠ {w}
        </div>
      ))}
    </>
  );
}
