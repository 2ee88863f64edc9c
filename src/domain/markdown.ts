/** Markdown helpers for text the service shows in the Temporal Web UI. Pure: workflow code imports it. */

/** `value` as one Markdown table cell: a pipe cannot end it early, a line break cannot end its row. */
export const markdownCell = (value: string): string => value.replace(/\|/g, '\\|').replace(/\s+/g, ' ');
