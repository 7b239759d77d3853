/** How much of a user's input an error message repeats. */
export const QUOTE_MAX = 200;

/**
 * A user's input as an error message quotes it: in double quotes, control characters escaped, and
 * cut to about 200 characters (a 10 MB line of a list is not echoed whole). Every message that
 * repeats an input goes through here.
 */
export function quote(input: string, max = QUOTE_MAX): string {
  const cut = input.length > max ? `${input.slice(0, max)}…` : input;
  // eslint-disable-next-line no-control-regex
  const shown = cut.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\t' ? '\\t' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return `"${shown}${input.length > max ? `" (${input.length} characters)` : '"'}`;
}

/** A path or name as a message shows it without quotes (cut the same way). */
export function shorten(input: string, max = QUOTE_MAX): string {
  return input.length > max ? `${input.slice(0, max)}…` : input;
}
