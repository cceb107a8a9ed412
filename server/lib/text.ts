// The one definition of characters that do not belong in text people typed:
// C0 and C1 controls, the Unicode line and paragraph separators, the
// bidirectional overrides and isolates that make text read differently from
// what it is, and (in one-line fields) the invisible zero-width characters
// that make two different strings look the same. Validation (lib/validate.ts, the concern catalogue) refuses
// them; mail subjects fold them away.

/** Not allowed anywhere in a single line of text. */
export const LINE_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

/**
 * Text a mail client would turn into a link: a scheme ("https://"), "www.",
 * or a dotted host name ("example.com"). Names of people and organisations
 * reach other people's inboxes, so they may not carry one.
 */
export const URL_LIKE = /[a-z][a-z0-9+.-]*:\/\/|www\.|[\p{L}\p{N}-]\.[a-z]{2,63}(?![\p{L}\p{N}-])/iu;

/** Not allowed in text that may span lines: the same set, less tab, line feed and carriage return. */
export const PARAGRAPH_UNSAFE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Half of a surrogate pair on its own: not text, and PostgreSQL's jsonb refuses it. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const LINE_UNSAFE_RUNS = new RegExp(`${LINE_UNSAFE.source}+`, 'g');

/** Text built from what people typed, made safe for one line (a mail subject): unsafe runs become a space. */
export function oneLine(s: string, max = 200): string {
  return s.replace(LINE_UNSAFE_RUNS, ' ').trim().slice(0, max);
}

/** A sentence's first letter in upper case ("choose one" → "Choose one"). */
export const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
