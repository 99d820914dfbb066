/**
 * Parsers for the value formats operators expect on a command line: Go-style durations
 * (`15s`, `1m30s`, `500ms`), bind addresses (`:8080`, `127.0.0.1:8080`, `0` = off) and
 * Kubernetes label selectors. Each returns `undefined` for a malformed value so the zod schema
 * can report it with the flag's name.
 */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** `1h30m`, `15s`, `500ms`, `0s` -> milliseconds. A bare number is refused (unit ambiguity). */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!DURATION.test(s)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of s.matchAll(DURATION_PART)) {
    ms += Number(amount) * (DURATION_UNITS[unit ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Where a server listens. `host` undefined means every interface. */
export interface BindAddress {
  host?: string;
  port: number;
}

const BIND = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+))?:(\d{1,5})$/;

/**
 * `:8080` (all interfaces), `127.0.0.1:8080`, `[::1]:8080`, `localhost:0` (any free port).
 * `0` disables the server (controller-runtime's convention) and parses to `null`.
 */
export function parseBindAddress(text: string): BindAddress | null | undefined {
  const s = text.trim();
  if (s === '0') return null;
  const m = BIND.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65_535) return undefined;
  const host = m[1]?.replace(/^\[(.*)\]$/, '$1');
  return host ? { host, port } : { port };
}

export function formatBindAddress(addr: BindAddress): string {
  const host = addr.host?.includes(':') ? `[${addr.host}]` : (addr.host ?? '');
  return `${host}:${addr.port}`;
}

const NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const PREFIX = '[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?';
const KEY = `(?:${PREFIX}/)?${NAME}`;
const VALUE = `(?:${NAME})?`;
const REQUIREMENT = new RegExp(
  `^(?:!\\s*${KEY}|${KEY}|${KEY}\\s*(?:==?|!=)\\s*${VALUE}|${KEY}\\s+(?:in|notin)\\s+\\(\\s*${VALUE}(?:\\s*,\\s*${VALUE})*\\s*\\))$`,
);

/** Splits on commas outside parentheses, as the API server does. */
function splitRequirements(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}

/** True when `selector` is a syntactically valid label selector (empty selects everything). */
export function isLabelSelector(selector: string): boolean {
  if (selector.trim() === '') return true;
  return splitRequirements(selector).every((r) => REQUIREMENT.test(r));
}

const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

export function isNamespaceName(name: string): boolean {
  return DNS_LABEL.test(name);
}
