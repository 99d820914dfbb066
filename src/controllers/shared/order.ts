/**
 * Orders strings by UTF-16 code unit, as `Array.prototype.sort()` does: for the lists the
 * operator sorts only to write them the same way every time (a status's sources and failures,
 * a template's stamp, a find's matches). `localeCompare` would depend on the ICU build and the
 * process's locale, and loads ICU's collation data on first use (3 MiB of RSS).
 */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
