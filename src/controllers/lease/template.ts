// spec.target.template of a lease: rendered keys beside the credential keys (always Merge: the
// Secret is the credential's only copy, read back to render again and to tell it still holds the
// credential). A template is checked with stand-in values before a first credential is minted,
// so a broken template never leaves a minted key without its Secret; once a lease holds a
// credential, renewals go on whatever the template does (a failed render writes the credential
// keys alone and reports a Warning), because an expired key is worse than a missing config file.
import { EVENT_REASONS } from '../shared/reasons.ts';
import type { SecretValue } from '../shared/secrets.ts';
import { renderSecretTemplate } from '../shared/template.ts';
import type { LeaseState } from './state.ts';

/** Stand-ins shaped like a real API key and service ID (never written anywhere). */
const STAND_IN = {
  apiKey: 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEf',
  serviceId: 'ServiceId-00000000-0000-0000-0000-000000000000',
};

/** Why the template cannot render (checked with stand-in values), or undefined. */
export async function templateProblem(st: LeaseState): Promise<string | undefined> {
  if (!st.lease.spec.target.template) return undefined;
  const rendered = await renderFor(st, STAND_IN.apiKey, STAND_IN.serviceId);
  return rendered.ok ? undefined : rendered.message;
}

/** The credential keys plus the rendered keys (the credential keys alone when it fails). */
export async function leaseSecretData(
  st: LeaseState,
  apiKey: string,
  serviceId: string,
): Promise<Record<string, SecretValue>> {
  const keys = st.lease.spec.target.keys;
  const data: Record<string, SecretValue> = { [keys.apiKey]: apiKey, [keys.serviceId]: serviceId };
  if (!st.lease.spec.target.template) return data;
  let rendered: Awaited<ReturnType<typeof renderFor>>;
  try {
    rendered = await renderFor(st, apiKey, serviceId);
  } catch (err) {
    // Called after a credential was minted: it must reach status and the Secret regardless.
    const why = err instanceof Error ? err.name : 'error';
    rendered = { ok: false, message: `reading the template's ConfigMaps failed (${why})` };
  }
  if (!rendered.ok) {
    st.report.event(
      'Warning',
      EVENT_REASONS.TemplateError,
      `${rendered.message}; the Secret holds the credential keys only until the template is fixed`,
    );
    return data;
  }
  // The credential keys win: they must stay what the lease recorded.
  return { ...rendered.data, ...data };
}

/**
 * The Secret data the template renders now, or undefined when it cannot render (then the Secret
 * keeps what it has: a broken ConfigMap edit does not take a working config file away).
 */
export async function renderedNow(
  st: LeaseState,
  apiKey: string,
  serviceId: string,
): Promise<Record<string, SecretValue> | undefined> {
  const keys = st.lease.spec.target.keys;
  try {
    const rendered = await renderFor(st, apiKey, serviceId);
    if (!rendered.ok) return undefined;
    return { ...rendered.data, [keys.apiKey]: apiKey, [keys.serviceId]: serviceId };
  } catch {
    return undefined;
  }
}

async function renderFor(st: LeaseState, apiKey: string, serviceId: string) {
  const template = st.lease.spec.target.template;
  const keys = st.lease.spec.target.keys;
  const configMaps = st.o.configMaps;
  if (!template || !configMaps) {
    return template?.templateFrom?.length
      ? { ok: false as const, message: 'ConfigMaps cannot be read by this controller' }
      : { ok: true as const, data: {} as Record<string, SecretValue>, sources: undefined };
  }
  return renderSecretTemplate(
    template,
    { [keys.apiKey]: apiKey, [keys.serviceId]: serviceId },
    st.ns,
    configMaps,
  );
}
