import { type Emulator, type EmulatorOptions, startEmulator } from './index.ts';

/** Helpers for tests that talk to an emulator over HTTP, as a client would. */

export const MANAGER_KEY = 'test-manager-api-key';

export async function startTestEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return startEmulator({ apiKeys: [{ key: MANAGER_KEY, role: 'Manager' }], ...opts });
}

export async function exchange(url: string, apikey: string): Promise<Response> {
  return fetch(`${url}/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'urn:ibm:params:oauth:grant-type:apikey', apikey }),
  });
}

export async function iamToken(url: string, apikey: string): Promise<string> {
  const res = await exchange(url, apikey);
  if (res.status !== 200) throw new Error(`IAM token exchange failed with ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export async function vaultLogin(url: string, apikey: string): Promise<string> {
  const token = await iamToken(url, apikey);
  const res = await fetch(`${url}/v1/auth/ibmcloud/login`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (res.status !== 200) throw new Error(`Vault login failed with ${res.status}`);
  return ((await res.json()) as { auth: { client_token: string } }).auth.client_token;
}

export interface VaultResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test code reads arbitrary JSON fields
  json: any;
}

/** A Vault API call with a token; `body` is sent as JSON. */
export async function vaultCall(
  url: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<VaultResponse> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers['x-vault-token'] = token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}
