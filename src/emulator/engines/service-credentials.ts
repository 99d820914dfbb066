import { z } from 'zod';
import { badRequest } from '../reply.ts';
import { currentVersion, type Secret, totalLocks } from '../store.ts';
import { newId, parseDurationSeconds, randomString, rfc3339 } from '../util.ts';
import { type Engine, type EngineContext, parseBody, versionBase } from './engine.ts';

const createSchema = z.object({
  source_crn: z.string().min(1),
  role: z.union([z.string().min(1), z.object({ crn: z.string().min(1) })]),
  ttl: z.union([z.string(), z.number()]).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  custom_metadata: z.record(z.string(), z.unknown()).optional(),
  version_custom_metadata: z.record(z.string(), z.unknown()).optional(),
});

/** `crn:v1:bluemix:public:event-notifications:us-south:a/<acct>:<instance>::` -> its parts. */
function sourceParts(crn: string) {
  const p = crn.split(':');
  return { prefix: p.slice(0, 8).join(':'), region: p[5] ?? 'us-south', instance: p[7] ?? newId() };
}

/**
 * A resource key on the source service: its API key is a real IAM key here, valid until the
 * secret is rotated or deleted, so a test can log in with it like an application would.
 */
function createKey(
  secret: Pick<Secret, 'attrs' | 'name'>,
  ctx: EngineContext,
  versionMeta: unknown,
) {
  const a = secret.attrs;
  const src = sourceParts(a.source_crn as string);
  const account = ctx.world.accountId;
  const serviceId = a.service_id as string;
  const apiKeyId = `ApiKey-${newId()}`;
  const apikey = randomString(44);
  const resourceKeyCrn = `${src.prefix}:resource-key:${newId()}`;
  const description = `Auto-generated for key ${resourceKeyCrn}`;
  ctx.world.iam.addDynamicKey({
    key: apikey,
    apiKeyId,
    serviceId,
    name: secret.name,
    isValid: () => true,
    onServiceIdDelete: () => {},
  });
  const fields = {
    iam_apikey_description: description,
    iam_apikey_id: apiKeyId,
    iam_apikey_name: secret.name,
    iam_role_crn: a.role,
    iam_serviceid_crn: `crn:v1:bluemix:public:iam-identity::a/${account}::serviceid:${serviceId}`,
    resource_key_crn: resourceKeyCrn,
    resource_key_name: secret.name,
    expiration_date: rfc3339(ctx.now + (a.ttl as number) * 1000),
    version_custom_metadata: versionMeta ?? {},
  };
  const data = {
    apikey,
    guid: src.instance,
    iam_apikey_description: description,
    iam_apikey_id: apiKeyId,
    iam_apikey_name: secret.name,
    iam_role_crn: a.role,
    iam_serviceid_crn: fields.iam_serviceid_crn,
    instance_id: src.instance,
    plan: newId(),
    region: src.region,
  };
  return { data, fields };
}

/** Service credentials: a resource key (IAM API key) on another service instance. */
export const serviceCredentialsEngine: Engine = {
  type: 'service_credentials',
  userExpiration: false,
  create(body, ctx) {
    const b = parseBody(createSchema, body);
    const ttl = b.ttl === undefined ? 90 * 86400 : parseDurationSeconds(b.ttl);
    if (ttl === undefined) throw badRequest('ttl must be seconds or a duration such as 90d');
    const attrs = {
      source_crn: b.source_crn,
      role: typeof b.role === 'string' ? b.role : b.role.crn,
      ttl,
      parameters: b.parameters ?? {},
      custom_metadata: b.custom_metadata ?? {},
      service_id: `ServiceId-${newId()}`,
    };
    const name = typeof body.name === 'string' ? body.name : '';
    return { attrs, ...createKey({ attrs, name }, ctx, b.version_custom_metadata) };
  },
  rotate(secret, body, ctx) {
    // The old resource key is deleted; the service ID stays.
    const old = currentVersion(secret)?.data?.apikey;
    if (typeof old === 'string') ctx.world.iam.removeKey(old);
    return createKey(secret, ctx, body.version_custom_metadata);
  },
  decorate(secret, view, out) {
    const a = secret.attrs;
    const v = currentVersion(secret);
    const f = v?.fields ?? {};
    Object.assign(out, {
      custom_metadata: a.custom_metadata,
      downloaded: v?.downloaded ?? false,
      iam_apikey_description: f.iam_apikey_description,
      iam_apikey_id: f.iam_apikey_id,
      iam_apikey_name: f.iam_apikey_name,
      iam_role_crn: f.iam_role_crn,
      iam_serviceid_crn: f.iam_serviceid_crn,
      locks_total: totalLocks(secret),
      parameters: a.parameters,
      resource_key_crn: f.resource_key_crn,
      resource_key_name: f.resource_key_name,
      role: a.role,
      source_crn: a.source_crn,
      ttl: a.ttl,
      versions_total: secret.versions.length,
    });
    if (view === 'metadata') return;
    out.secret_data = v?.data ?? {};
    out.versions = secret.versions.map((x) => ({
      ...versionBase(x),
      downloaded: x.downloaded,
      expiration_date: x.fields.expiration_date,
      payload_available: x.data !== undefined,
      version_custom_metadata: x.fields.version_custom_metadata,
    }));
  },
};

/** Deleting the secret deletes its resource keys. */
export function deleteServiceCredentialKeys(
  secret: Secret,
  ctx: Pick<EngineContext, 'world'>,
): void {
  for (const v of secret.versions) {
    if (typeof v.data?.apikey === 'string') ctx.world.iam.removeKey(v.data.apikey);
  }
}
