/**
 * A short echo of a value the user gave, for a message or a log line: quoted, on one line,
 * at most 40 characters of it, so that no long input (or one holding an address or id)
 * is repeated whole.
 */
export function echo(value: string): string {
  const flat = JSON.stringify(value);
  return flat.length > 42 ? `${flat.slice(0, 40)}…"` : flat;
}

/** Anything shaped like an e-mail address. */
const ADDRESS = /[^\s,;:"'<>()[\]]+@[^\s,;:"'<>()[\]]+/g;

/**
 * A text for a log line: every e-mail address replaced by `<address>` (logs never hold
 * addresses: a refused recipient is named to the caller, never to the log).
 */
export function redact(text: string): string {
  return text.replace(ADDRESS, '<address>');
}
