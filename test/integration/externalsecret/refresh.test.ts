// Keeping the Secret current: a rotation in Secrets Manager shows up after a refresh or a
// force-sync, an unchanged refresh writes nothing, env-var consumers are rolled, a 5xx/429 storm
// leaves the Secret intact and recovers, an operator restart rewrites nothing, and no secret
// value ever reaches the log, an Event or status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/cluster.ts';
import type { TestEmulator } from '../support/emulator.ts';
import { startFixture, stopFixture } from '../support/fixture.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import {
  apps,
  core,
  createExternalSecret,
  decoded,
  getExternalSecret,
  getSecret,
  patchExternalSecret,
  readyOf,
  SEED,
  waitForReason,
  waitForSecret,
} from './helpers.ts';

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;
const allLogs: string[] = [];

beforeAll(async () => {
  ({ namespace, sm, operator } = await startFixture('es-refresh'));
});

afterAll(() => stopFixture(operator, sm));

function spec(rest: Record<string, unknown>): Record<string, unknown> {
  return { storeRef: sm.storeRef, ...rest };
}

function arbitrary(name: string, payload: string): string {
  return sm.emulator.createSecret({ type: 'arbitrary', name, payload });
}

async function refreshedAfter(name: string, time: string | undefined): Promise<void> {
  await eventually(
    `a refresh of ${name}`,
    async () => {
      const es = await getExternalSecret(namespace, name);
      return es?.status?.refreshTime && es.status.refreshTime !== time ? true : undefined;
    },
    30_000,
  );
}

describe('refresh', () => {
  it('shows a rotation after the refresh interval, with an Updated Event', async () => {
    const id = arbitrary('rotating', 'v1');
    await createExternalSecret(
      namespace,
      'rotating',
      spec({
        refreshInterval: '5s',
        data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }],
      }),
    );
    await waitForSecret(namespace, 'rotating', (d) => d.v === 'v1');
    sm.emulator.rotateSecret(id, { payload: 'v2' });
    await waitForSecret(namespace, 'rotating', (d) => d.v === 'v2', 30_000);
    await eventually('an Updated Event', async () => {
      const events = await core.listNamespacedEvent({ namespace });
      return events.items.find(
        (e) => e.involvedObject.name === 'rotating' && e.reason === 'Updated',
      );
    });
  });

  it('plans no refresh for refreshInterval 0, and a cron refresh for refreshSchedule', async () => {
    const id = arbitrary('planned', 'v1');
    const data = [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }];
    await createExternalSecret(namespace, 'once', spec({ refreshInterval: '0', data }));
    await createExternalSecret(namespace, 'cron', spec({ refreshSchedule: '*/5 * * * *', data }));
    const once = await waitForReason(namespace, 'once', 'Synced');
    expect(once.status?.refreshTime).toBeDefined();
    expect(once.status?.nextRefreshTime).toBeUndefined();
    const cron = await waitForReason(namespace, 'cron', 'Synced');
    const next = Date.parse(cron.status?.nextRefreshTime ?? '');
    const synced = Date.parse(cron.status?.refreshTime ?? '');
    // The next 5-minute mark after the sync, late by at most 10% of the period (30 s).
    const mark = Math.floor(synced / 300_000) * 300_000 + 300_000;
    expect(next).toBeGreaterThanOrEqual(mark);
    expect(next).toBeLessThanOrEqual(mark + 31_000);
  });

  it('syncs at once on a new force-sync annotation value', async () => {
    const id = arbitrary('forced', 'v1');
    await createExternalSecret(
      namespace,
      'forced',
      spec({
        refreshInterval: '1h',
        data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }],
      }),
    );
    await waitForSecret(namespace, 'forced', (d) => d.v === 'v1');
    sm.emulator.rotateSecret(id, { payload: 'v2' });
    await patchExternalSecret(namespace, 'forced', {
      metadata: { annotations: { 'secrets-manager.dev/force-sync': 'now' } },
    });
    await waitForSecret(namespace, 'forced', (d) => d.v === 'v2');
  });

  it('writes nothing when the data did not change: one Vault read per refresh and no IAM exchange', async () => {
    const id = arbitrary('steady', 'same');
    await createExternalSecret(
      namespace,
      'steady',
      spec({
        refreshInterval: '5s',
        data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }],
      }),
    );
    const secret = await waitForSecret(namespace, 'steady');
    const first = await waitForReason(namespace, 'steady', 'Synced');
    const route = 'GET /v1/ibmcloud/arbitrary/secrets/{id}';
    const reads = () =>
      Object.values(sm.emulator.counters().requests[route] ?? {}).reduce((a, b) => a + b, 0);
    const readsBefore = reads();
    const exchangesBefore = sm.emulator.counters().iamTokenExchanges;
    await refreshedAfter('steady', first.status?.refreshTime);
    const second = await getExternalSecret(namespace, 'steady');
    await refreshedAfter('steady', second?.status?.refreshTime);
    const after = await getSecret(namespace, 'steady');
    expect(after?.metadata?.resourceVersion).toBe(secret.metadata?.resourceVersion);
    // Other resources of this file refresh too; ours adds one read per refresh.
    expect(reads() - readsBefore).toBeGreaterThanOrEqual(2);
    expect(sm.emulator.counters().iamTokenExchanges).toBe(exchangesBefore);
  });

  it('restarts named workloads when the data changes, not on the first write', async () => {
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] },
          },
        },
      },
    });
    const id = arbitrary('for-web', 'v1');
    await createExternalSecret(
      namespace,
      'web-env',
      spec({
        refreshInterval: '1h',
        data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }],
        rolloutRestartTargets: [
          { kind: 'Deployment', name: 'web' },
          { kind: 'StatefulSet', name: 'not-there' },
        ],
      }),
    );
    await waitForReason(namespace, 'web-env', 'Synced');
    const annotation = 'secrets-manager.dev/restartedAt';
    const before = await apps.readNamespacedDeployment({ namespace, name: 'web' });
    expect(before.spec?.template.metadata?.annotations?.[annotation]).toBeUndefined();

    sm.emulator.rotateSecret(id, { payload: 'v2' });
    await patchExternalSecret(namespace, 'web-env', {
      metadata: { annotations: { 'secrets-manager.dev/force-sync': '1' } },
    });
    const restarted = await eventually('the Deployment restart', async () => {
      const d = await apps.readNamespacedDeployment({ namespace, name: 'web' });
      return d.spec?.template.metadata?.annotations?.[annotation];
    });
    expect(Date.parse(restarted)).toBeGreaterThan(0);
    await eventually('a RolloutRestartFailed Event for the missing StatefulSet', async () => {
      const events = await core.listNamespacedEvent({ namespace });
      return events.items.find(
        (e) =>
          e.involvedObject.name === 'web-env' &&
          e.reason === 'RolloutRestartFailed' &&
          e.message?.includes('StatefulSet/not-there'),
      );
    });
  });
});

describe('remote failures', () => {
  it('keeps the Secret through a 5xx and 429 storm, reports it, and recovers', async () => {
    const id = arbitrary('stormy', 'v1');
    await createExternalSecret(
      namespace,
      'stormy',
      spec({
        refreshInterval: '5s',
        data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }],
      }),
    );
    const good = await waitForSecret(namespace, 'stormy', (d) => d.v === 'v1');
    const routes = ['GET /v1/ibmcloud/arbitrary/secrets/*'];
    sm.emulator.setFaults({ errorRate: 1, errorStatus: 503, routes });
    sm.emulator.rotateSecret(id, { payload: 'v2' });
    const failing = await waitForReason(namespace, 'stormy', 'SyncError', 40_000);
    expect(readyOf(failing)?.message).toContain('keeps its last data');
    sm.emulator.setFaults({ errorRate: 0, rateLimitRate: 1, retryAfter: 1, routes });
    await eventually('a rate-limited attempt', async () =>
      sm.emulator.counters().faults.rateLimited > 0 ? true : undefined,
    );
    const during = await getSecret(namespace, 'stormy');
    expect(during?.metadata?.resourceVersion).toBe(good.metadata?.resourceVersion);
    expect(decoded(during)).toEqual({ v: 'v1' });
    expect(readyOf(await getExternalSecret(namespace, 'stormy'))?.reason).toBe('SyncError');

    sm.emulator.setFaults({ rateLimitRate: 0, routes: null });
    await waitForSecret(namespace, 'stormy', (d) => d.v === 'v2', 60_000);
    await waitForReason(namespace, 'stormy', 'Synced');
  });
});

describe('operator restart', () => {
  it('rewrites no unchanged Secret and writes no status for resources that are not due', async () => {
    const id = arbitrary('restart', 'v1');
    await createExternalSecret(
      namespace,
      'restart-hourly',
      spec({
        refreshInterval: '1h',
        data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }],
      }),
    );
    await createExternalSecret(
      namespace,
      'restart-fast',
      spec({
        refreshInterval: '5s',
        data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }],
      }),
    );
    const hourly = await waitForReason(namespace, 'restart-hourly', 'Synced');
    await waitForReason(namespace, 'restart-fast', 'Synced');
    const hourlySecret = await getSecret(namespace, 'restart-hourly');
    const fastSecret = await getSecret(namespace, 'restart-fast');
    const reads = sm.emulator.counters().requests['GET /v1/ibmcloud/arbitrary/secrets/{id}'];
    void reads;

    allLogs.push(operator.logs());
    await operator.stop();
    operator = await startOperator({ namespaces: [namespace] });
    // The new process looked at the hourly one and found nothing due.
    await eventually('the restarted operator to check restart-hourly', async () =>
      operator
        .logLines()
        .find((l) => l.resource === `${namespace}/restart-hourly` && l.due === 'nothing'),
    );
    // ...and refreshed the fast one at least once.
    const fast = await getExternalSecret(namespace, 'restart-fast');
    await refreshedAfter('restart-fast', fast?.status?.refreshTime);

    expect((await getExternalSecret(namespace, 'restart-hourly'))?.metadata.resourceVersion).toBe(
      hourly.metadata.resourceVersion,
    );
    expect((await getSecret(namespace, 'restart-hourly'))?.metadata?.resourceVersion).toBe(
      hourlySecret?.metadata?.resourceVersion,
    );
    expect((await getSecret(namespace, 'restart-fast'))?.metadata?.resourceVersion).toBe(
      fastSecret?.metadata?.resourceVersion,
    );
  });
});

describe('secret values stay secret', () => {
  it('appear in no log line (debug level), Event or status of a full sync', async () => {
    await createExternalSecret(
      namespace,
      'everything',
      spec({
        refreshInterval: '1h',
        dataFrom: [
          { extract: { type: 'arbitrary', name: SEED.databaseUrl.name } },
          {
            extract: {
              type: 'arbitrary',
              id: SEED.teamAToken.id,
              group: SEED.teamAGroup,
              keyPrefix: 'a_',
            },
          },
          { extract: { type: 'kv', name: SEED.appConfig.name, keyPrefix: 'kv_' } },
          { extract: { type: 'username_password', name: SEED.smtp.name } },
          { extract: { type: 'imported_cert', name: SEED.appTls.name, keyPrefix: 'tls_' } },
          {
            extract: {
              type: 'service_credentials',
              name: SEED.serviceCredentials.name,
              keyPrefix: 'sc_',
            },
          },
          {
            extract: {
              type: 'iam_credentials',
              name: SEED.iamReuse.name,
              group: SEED.teamAGroup,
              keyPrefix: 'iam_',
            },
          },
        ],
      }),
    );
    const secret = await waitForSecret(namespace, 'everything');
    await waitForReason(namespace, 'everything', 'Synced');
    const values = Object.values(decoded(secret))
      .flatMap((v) => [v, ...v.split('\n')])
      .filter((v) => v.length >= 8 && !v.startsWith('-----'));
    values.push(sm.apiKey);
    expect(values).toContain(SEED.smtpPassword);
    expect(values).toContain(SEED.databaseUrlValue);

    allLogs.push(operator.logs());
    const logs = allLogs.join('\n');
    expect(logs).toContain('"level":"debug"');
    expect(logs).toContain('everything');
    const events = await core.listNamespacedEvent({ namespace });
    const es = await getExternalSecret(namespace, 'everything');
    const surfaces = {
      logs,
      events: JSON.stringify(events.items.map((e) => [e.reason, e.message])),
      status: JSON.stringify(es?.status),
    };
    for (const [where, text] of Object.entries(surfaces)) {
      for (const value of values) {
        expect(text.includes(value), `a secret value in ${where}`).toBe(false);
      }
    }
  });
});
