/** The fields the admin forms share: choice selects, scope pickers, check lists, buttons. */
import type { ComponentChildren } from 'preact';

export type Options = readonly (readonly [string, string])[];

/** A labelled select whose value the form keeps in state. */
export function Choice({
  label,
  name,
  options,
  value,
  onChange,
}: {
  label: string;
  name: string;
  options: Options;
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <label>
      {label}
      <select name={name} value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
        {options.map(([v, t]) => (
          <option key={v} value={v}>
            {t}
          </option>
        ))}
      </select>
    </label>
  );
}

const scopeValueLabel = (kind: string) =>
  kind === 'line' || kind === 'device' ? 'Device (name or id)' : kind === 'region' ? 'Region' : 'Customer';

/** scopeKind select, and the scopeValue input unless the whole fleet is chosen. */
export function ScopePicker({
  label,
  scopes,
  kind,
  onKind,
  value,
}: {
  label: string;
  scopes: Options;
  kind: string;
  onKind: (v: string) => void;
  value?: string | null;
}) {
  return (
    <>
      <Choice label={label} name="scopeKind" options={scopes} value={kind} onChange={onKind} />
      {kind !== 'all' && (
        <label>
          {scopeValueLabel(kind)}
          <input name="scopeValue" required maxLength={100} defaultValue={value ?? ''} />
        </label>
      )}
    </>
  );
}

/** A wide fieldset of checkboxes sharing one name. */
export function CheckList({
  legend,
  name,
  options,
  checked,
}: {
  legend: string;
  name: string;
  options: Options;
  checked: (v: string) => boolean | undefined;
}) {
  return (
    <fieldset class="wide">
      <legend>{legend}</legend>
      {options.map(([v, t]) => (
        <label key={v} class="check">
          <input type="checkbox" name={name} value={v} defaultChecked={checked(v)} /> {t}
        </label>
      ))}
    </fieldset>
  );
}

/** The "Enabled" checkbox (on for a new row). */
export function EnabledCheck({ value }: { value?: boolean }) {
  return (
    <label class="check">
      <input type="checkbox" name="enabled" defaultChecked={value ?? true} /> Enabled
    </label>
  );
}

/** Submit (and Cancel when editing) at the foot of a form; `children` go before submit. */
export function FormButtons({
  submit,
  onCancel,
  toolbar = true,
  bare = false,
  children,
}: {
  submit: string;
  onCancel?: () => void;
  /** false: a plain "wide" row, no toolbar spacing. */
  toolbar?: boolean;
  /** true: a toolbar that does not span the form's width. */
  bare?: boolean;
  children?: ComponentChildren;
}) {
  return (
    <div class={bare ? 'toolbar' : toolbar ? 'wide toolbar' : 'wide'}>
      {children}
      <button type="submit">{submit}</button>
      {onCancel && (
        <button type="button" class="ghost" onClick={onCancel}>
          Cancel
        </button>
      )}
    </div>
  );
}
