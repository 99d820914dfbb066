import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, usage } from './config.ts';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('gives the conventional defaults', () => {
    const c = parseConfig([], {});
    expect(c).toEqual({
      kubeconfig: undefined,
      watchNamespaces: [],
      labelSelector: undefined,
      concurrency: 16,
      metricsBindAddress: { port: 8080 },
      healthProbeBindAddress: { port: 8081 },
      leaderElection: {
        enabled: false,
        id: 'secrets-manager-operator',
        namespace: undefined,
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
      logLevel: 'info',
      resyncPeriodMs: 36_000_000,
      shutdownTimeoutMs: 25_000,
    });
  });

  it('reads flags in both --name=value and --name value forms', () => {
    const c = parseConfig(
      [
        '--kubeconfig',
        '/tmp/kc',
        '--watch-namespaces=team-a, team-b,team-a',
        '--label-selector',
        'shard in (a,b),!canary',
        '--concurrency=8',
        '--metrics-bind-address',
        '127.0.0.1:0',
        '--health-probe-bind-address=0',
        '--leader-elect',
        '--leader-election-id=smo',
        '--leader-election-namespace',
        'ops',
        '--leader-election-lease-duration=4s',
        '--leader-election-renew-deadline=3s',
        '--leader-election-retry-period=500ms',
        '--log-level=debug',
        '--resync-period=1h30m',
        '--shutdown-timeout=5s',
      ],
      {},
    );
    expect(c.kubeconfig).toBe('/tmp/kc');
    expect(c.watchNamespaces).toEqual(['team-a', 'team-b']);
    expect(c.labelSelector).toBe('shard in (a,b),!canary');
    expect(c.concurrency).toBe(8);
    expect(c.metricsBindAddress).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.healthProbeBindAddress).toBeNull();
    expect(c.leaderElection).toEqual({
      enabled: true,
      id: 'smo',
      namespace: 'ops',
      leaseDurationMs: 4000,
      renewDeadlineMs: 3000,
      retryPeriodMs: 500,
    });
    expect(c.logLevel).toBe('debug');
    expect(c.resyncPeriodMs).toBe(5_400_000);
    expect(c.shutdownTimeoutMs).toBe(5000);
  });

  it('reads environment variables, and a flag wins over its variable', () => {
    const env = {
      KUBECONFIG: '/env/kc',
      SMO_CONCURRENCY: '2',
      SMO_LEADER_ELECT: 'true',
      SMO_WATCH_NAMESPACES: 'x,y',
      SMO_LOG_LEVEL: 'warn',
    };
    const c = parseConfig(['--concurrency', '3'], env);
    expect(c.kubeconfig).toBe('/env/kc');
    expect(c.concurrency).toBe(3);
    expect(c.leaderElection.enabled).toBe(true);
    expect(c.watchNamespaces).toEqual(['x', 'y']);
    expect(c.logLevel).toBe('warn');
    expect(parseConfig(['--leader-elect=false'], env).leaderElection.enabled).toBe(false);
  });

  it('names the flag, the variable and the value in a clear error', () => {
    expect(errorOf(() => parseConfig(['--concurrency=abc'], {})).message).toBe(
      'invalid configuration: --concurrency must be a whole number (got "abc")',
    );
    expect(errorOf(() => parseConfig([], { SMO_CONCURRENCY: '0' })).message).toBe(
      'invalid configuration: SMO_CONCURRENCY (environment) must be at least 1 (got "0")',
    );
  });

  it('rejects each kind of bad value', () => {
    const bad: Array<[string[], string]> = [
      [['--metrics-bind-address=8080'], '--metrics-bind-address must be [host]:port'],
      [['--health-probe-bind-address=:99999'], '--health-probe-bind-address must be'],
      [['--leader-elect=maybe'], '--leader-elect must be true or false'],
      [['--log-level=verbose'], '--log-level must be one of'],
      [['--watch-namespaces=Team_A'], 'not namespace names: Team_A'],
      [['--label-selector=a b c'], '--label-selector must be a label selector'],
      [['--resync-period=10'], '--resync-period must be a duration'],
      [['--leader-election-id=Bad Name'], '--leader-election-id must be a lowercase DNS name'],
      [
        ['--leader-election-renew-deadline=20s'],
        '--leader-election-renew-deadline must be shorter than the lease duration (got "20s")',
      ],
      [['--nope'], 'unknown argument "--nope"'],
      [['--concurrency'], '--concurrency needs a value'],
    ];
    for (const [argv, expected] of bad) {
      const message = errorOf(() => parseConfig(argv, {})).message;
      expect(message, argv.join(' ')).toContain(expected);
    }
  });

  it('reports every problem at once', () => {
    const err = errorOf(() => parseConfig(['--concurrency=0', '--log-level=loud'], {}));
    expect(err.problems).toHaveLength(2);
    expect(err.code).toBe('INVALID_CONFIG');
  });

  it('documents every flag with its variable', () => {
    expect(usage()).toContain('--leader-election-namespace (SMO_LEADER_ELECTION_NAMESPACE)');
  });
});
