import { describe, expect, it } from 'vitest';
import { SecretsManagerError } from '../../secretsmanager/index.ts';
import { classifyStoreError } from './reconciler.ts';

describe('classifyStoreError', () => {
  it('tells a bad key, a wrong endpoint and an unreachable endpoint apart', () => {
    expect(
      classifyStoreError(
        new SecretsManagerError('Unauthenticated', 'iam_token: the API key was not found', {
          operation: 'iam_token',
        }),
      ),
    ).toMatchObject({ reason: 'AuthFailed', retry: 'later' });
    const wrongUrl = classifyStoreError(
      new SecretsManagerError('NotFound', 'vault_login: HTTP 404', {
        operation: 'vault_login',
        status: 404,
      }),
    );
    expect(wrongUrl).toMatchObject({ reason: 'WrongEndpoint' });
    expect(wrongUrl.message).toContain('spec.secretsManager.url');
    const wrongIam = classifyStoreError(
      new SecretsManagerError('InvalidResponse', 'iam_token: response is not JSON', {
        operation: 'iam_token',
      }),
    );
    expect(wrongIam.message).toContain('spec.secretsManager.iamUrl');
    expect(
      classifyStoreError(
        new SecretsManagerError('Unavailable', 'vault_login: connection refused', {
          operation: 'vault_login',
          notSent: true,
          cause: { name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' },
        }),
      ),
    ).toMatchObject({ reason: 'Unreachable', retry: 'backoff' });
  });
});
