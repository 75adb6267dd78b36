/**
 * E-mail addresses recipients may have: one plain mailbox (local@domain), no display name,
 * no list, nothing that could add a header or a second recipient (CR, LF, ',', ';', '<', '>').
 */
export class EmailAddressError extends Error {}

// Local part: the dot-atom characters of RFC 5322 (no quoted strings); domain: labels with a dot.
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** The address with its domain in lower case; throws EmailAddressError saying what is wrong. */
export function normalizeEmail(input: string): string {
  const s = input.trim();
  if (s.length === 0) throw new EmailAddressError('an e-mail address is required');
  if (s.length > 254) throw new EmailAddressError('an e-mail address has at most 254 characters');
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1)
    throw new EmailAddressError(`"${s}" is not an e-mail address (expected name@example.com)`);
  const local = s.slice(0, at);
  const domain = s.slice(at + 1).toLowerCase();
  if (local.length > 64 || !LOCAL.test(local))
    throw new EmailAddressError(`"${local}" is not a valid mailbox name (letters, digits, . _ + - and the like)`);
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)))
    throw new EmailAddressError(`"${domain}" is not a valid domain (expected e.g. example.com)`);
  return `${local}@${domain}`;
}
