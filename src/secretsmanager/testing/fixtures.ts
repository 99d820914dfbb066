/**
 * `data` objects of get-secret responses, modelled on the examples of seeds/004 (public_cert and
 * private_cert have no example there; theirs follow the imported_cert shape plus the private
 * CA fields). Values are distinctive so tests can look for leaks.
 */

const common = {
  created_by: 'iam-ServiceId-c0c7cfa4-b24e-4917-ad74-278f2fee5ba0',
  creation_date: '2020-12-16T20:54:52Z',
  last_update_date: '2020-12-16T20:54:52Z',
  crn: 'crn:v1:bluemix:public:secrets-manager:us-south:a/a5eb:0f4c:secret:582a8f65',
  description: 'Extended description for my secret.',
  labels: ['dev', 'us-south'],
  state: 1,
  state_description: 'Active',
};

export const VALUES = {
  arbitrary: 'arbitrary-VALUE-7c1e2a',
  kvNested: 'kv-NESTED-VALUE-55aa',
  password: 'cloudy-rainy-coffee-book-PW',
  privateKey: '-----BEGIN PRIVATE KEY-----\nMIICdgIBADANB-PRIVATE-9911\n-----END PRIVATE KEY-----',
  serviceApiKey: 'svc-APIKEY-xxxxxxxxxxxxxxxxxxxxxxx',
  iamApiKey: 'U40hERZ0h-0C0cnka2bEuL2y-MINTED',
} as const;

export const CERT = '-----BEGIN CERTIFICATE-----\nMIICWzCCAcQCC-CERT\n-----END CERTIFICATE-----';
export const INTERMEDIATE =
  '-----BEGIN CERTIFICATE-----\nMIICUzHHraOa-INT\n-----END CERTIFICATE-----';

export const arbitraryData = (over: Record<string, unknown> = {}) => ({
  ...common,
  id: '582a8f65-9a2b-a072-4fc3-e69ff3462c23',
  name: 'test-arbitrary-secret',
  secret_type: 'arbitrary',
  expiration_date: '2030-04-01T09:30:00Z',
  secret_data: { payload: VALUES.arbitrary },
  versions: [
    {
      created_by: 'iam-ServiceId-c0c7',
      creation_date: '2020-12-16T20:54:52Z',
      id: '03d9ddb3-aa1d-d929-40c8-04027213ef08',
    },
  ],
  ...over,
});

export const kvData = (over: Record<string, unknown> = {}) => ({
  ...common,
  id: '2ea8e7d0-69ce-c00a-0a00-000b3ee00001',
  name: 'test-kv-secret',
  secret_type: 'kv',
  downloaded: true,
  secret_data: { payload: { key1: 'value1', nested: { deep: VALUES.kvNested }, n: 3 } },
  versions: [
    { id: 'v1-old', payload_available: false },
    { id: 'v2-current', payload_available: true },
  ],
  versions_total: 2,
  ...over,
});

export const usernamePasswordData = (over: Record<string, unknown> = {}) => ({
  ...common,
  id: '2bd4c8fc-c1e4-f9d7-8026-6c04610f051f',
  name: 'test-username-password',
  secret_type: 'username_password',
  expiration_date: '2030-12-31T00:00:00Z',
  secret_data: { password: VALUES.password, username: 'user123' },
  versions: [{ auto_rotated: false, id: 'ae4b3afd-5e63-5951-790b-f1892e8c5267' }],
  ...over,
});

const certMeta = {
  algorithm: 'RSA',
  common_name: 'example.com',
  issuer: 'US Texas Austin Example Corp. Example Org example.com',
  key_algorithm: 'SHA256-RSA',
  serial_number: 'fc:22:29:7e:57:25:8a:05',
  validity: { not_after: '2031-06-04T15:25:44Z', not_before: '2021-06-03T15:25:44Z' },
  expiration_date: '2031-06-04T15:25:44Z',
};

export const importedCertData = (over: Record<string, unknown> = {}) => ({
  ...common,
  ...certMeta,
  id: 'be4a0846-4cb5-3bfa-bab5-10a44dfc3e85',
  name: 'test-imported-certificate',
  secret_type: 'imported_cert',
  intermediate_included: true,
  private_key_included: true,
  secret_data: { certificate: CERT, intermediate: INTERMEDIATE, private_key: VALUES.privateKey },
  versions: [{ id: 'e4f44e8b-abe0-9267-88da-199e754f974a', serial_number: 'fc:22' }],
  ...over,
});

export const publicCertData = (over: Record<string, unknown> = {}) => ({
  ...common,
  ...certMeta,
  id: '6ad4e3d3-5f6c-4a4b-9f7e-2c1d0e9f8a7b',
  name: 'test-public-certificate',
  secret_type: 'public_cert',
  secret_data: { certificate: CERT, intermediate: INTERMEDIATE, private_key: VALUES.privateKey },
  ...over,
});

export const privateCertData = (over: Record<string, unknown> = {}) => ({
  ...common,
  ...certMeta,
  id: '7be5f4e4-6a7d-4b5c-8a8f-3d2e1f0a9b8c',
  name: 'test-private-certificate',
  secret_type: 'private_cert',
  secret_data: {
    certificate: CERT,
    private_key: VALUES.privateKey,
    issuing_ca: INTERMEDIATE,
    ca_chain: [INTERMEDIATE, CERT],
  },
  ...over,
});

export const serviceCredentialsData = (over: Record<string, unknown> = {}) => ({
  ...common,
  id: 'c70951dd-f672-9995-968d-b76204b2432d',
  name: 'test-sc-secret',
  secret_type: 'service_credentials',
  labels: [],
  ttl: 7776000,
  source_crn: 'crn:v1:staging:public:event-notifications:us-south:a/826a:f854::',
  secret_data: {
    apikey: VALUES.serviceApiKey,
    iam_apikey_id: 'ApiKey-4fdabb94-2654-4ab7-8d01-fbf41117b4a9',
    instance_id: 'f85409e9-1a06-47d5-8320-95ed4e1675cc',
    cos_hmac_keys: { access_key_id: 'hmac-id', secret_access_key: 'hmac-secret' },
  },
  versions: [{ id: '1ab6e797-c74d-419d-0863-a8976b64efe8', payload_available: true }],
  versions_total: 1,
  ...over,
});

export const iamCredentialsData = (over: Record<string, unknown> = {}) => ({
  ...common,
  id: 'd7a2b83f-997c-4914-857a-86bfcdbf0873',
  name: 'test-iam-credentials',
  secret_type: 'iam_credentials',
  access_groups: ['AccessGroupId-0529f490-129c-4877-a2a0-b57f50d3e53b'],
  api_key: VALUES.iamApiKey,
  service_id: 'ServiceId-43c79ec9-7f02-481d-92f1-e60363483298',
  ttl: 1800,
  ...over,
});
