import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { describeError } from './errors.ts';
import { createLogger, forResource } from './logger.ts';

const SECRET = 's3cr3t-VALUE-never-logged';

function capture() {
  const lines: string[] = [];
  const log = createLogger({
    level: 'trace',
    destination: { write: (s: string) => lines.push(s) },
  });
  return { log, output: () => lines.join('') };
}

describe('logger redaction', () => {
  const keys = [
    'apiKey',
    'api_key',
    'apikey',
    'token',
    'access_token',
    'refresh_token',
    'client_token',
    'password',
    'data',
    'stringData',
    'payload',
    'authorization',
    'Authorization',
    'X-Vault-Token',
  ];

  for (const key of keys) {
    it(`never writes a value under "${key}", at any depth`, () => {
      const { log, output } = capture();
      log.info({ [key]: SECRET }, 'top level');
      log.info({ outer: { [key]: SECRET } }, 'one level down');
      log.info({ a: { b: { c: [{ [key]: SECRET }] } } }, 'deep in an array');
      log.child({ bound: { [key]: SECRET } }).info('in a child binding');
      expect(output()).not.toContain(SECRET);
      expect(output()).toContain('[REDACTED]');
    });
  }

  it('never writes request headers carrying a token', () => {
    const { log, output } = capture();
    log.info({ req: { headers: { authorization: `Bearer ${SECRET}`, accept: 'json' } } }, 'call');
    log.info({ note: `Bearer ${SECRET}` }, 'bearer string under an innocent key');
    expect(output()).not.toContain(SECRET);
    expect(output()).toContain('"accept":"json"');
  });

  it('logs an ApiException by code and Status reason, not by body or headers', () => {
    const { log, output } = capture();
    const err = new ApiException(
      422,
      'Unprocessable',
      { kind: 'Status', reason: 'Invalid', message: 'Secret "x" is invalid', data: SECRET },
      { 'set-cookie': SECRET },
    );
    log.error({ err }, 'apply failed');
    log.error({ nested: { cause: err } }, 'apply failed again');
    const out = output();
    expect(out).not.toContain(SECRET);
    const [first, second] = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const safe = { name: 'ApiException', status: 422, message: 'Invalid: Secret "x" is invalid' };
    expect(first?.err).toMatchObject(safe);
    expect(second?.nested).toMatchObject({ cause: safe });
  });

  it('reads the Status of a body client-node left as text, so a 403 names the missing permission', () => {
    const body = JSON.stringify({
      kind: 'Status',
      reason: 'Forbidden',
      message:
        'secrets is forbidden: User "system:serviceaccount:x:y" cannot create resource "secrets"',
    });
    const safe = describeError(new ApiException(403, 'Forbidden', body, {}));
    expect(safe.message).toBe(
      'Forbidden: secrets is forbidden: User "system:serviceaccount:x:y" cannot create resource "secrets"',
    );
  });

  it('keeps ordinary fields and binds the resource key in child loggers', () => {
    const { log, output } = capture();
    forResource(log, 'externalsecret', { namespace: 'team-a', name: 'db' }).info(
      { secretId: 'abc-123' },
      'synced',
    );
    const line = JSON.parse(output()) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'info',
      controller: 'externalsecret',
      resource: 'team-a/db',
      secretId: 'abc-123',
      msg: 'synced',
    });
  });
});

describe('logger destination', () => {
  it('has every line on stdout before the next statement runs: a SIGKILL loses none', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const logger = fileURLToPath(new URL('./logger.ts', import.meta.url));
    const script = `
      const { createLogger } = await import(${JSON.stringify(logger)});
      const log = createLogger({ level: 'info' });
      for (let i = 0; i < 200; i++) log.info({ i }, 'line');
      process.kill(process.pid, 'SIGKILL');
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    expect(run.signal).toBe('SIGKILL');
    const lines = run.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(200);
    expect(JSON.parse(lines[199] as string)).toMatchObject({ i: 199, msg: 'line' });
  });
});
