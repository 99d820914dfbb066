import { z } from 'zod';
import {
  type BindAddress,
  formatDuration,
  isLabelSelector,
  isNamespaceName,
  parseBindAddress,
  parseDuration,
} from './values.ts';

/**
 * The operator's configuration: command-line flags, each backed by an environment variable
 * (flag > environment > default), validated by zod into one typed `Config`.
 */

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LeaderElectionConfig {
  enabled: boolean;
  /** Name of the coordination.k8s.io Lease. */
  id: string;
  /** Namespace of the Lease; when unset the manager uses the pod's own namespace. */
  namespace?: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface Config {
  /** Explicit kubeconfig path (flag or KUBECONFIG); else in-cluster, else ~/.kube/config. */
  kubeconfig?: string;
  /** Namespaces to watch; empty means every namespace. */
  watchNamespaces: string[];
  /** Shard selector: only custom resources whose labels match are reconciled. */
  labelSelector?: string;
  /** Reconciles run at once per controller. */
  concurrency: number;
  /** `null` when disabled with `0`. */
  metricsBindAddress: BindAddress | null;
  healthProbeBindAddress: BindAddress | null;
  leaderElection: LeaderElectionConfig;
  logLevel: LogLevel;
  /** How often informers relist and every object is reconciled again. */
  resyncPeriodMs: number;
  /** Bound on the graceful shutdown (finishing in-flight reconciles, releasing the Lease). */
  shutdownTimeoutMs: number;
}

interface OptionSpec {
  flag: string;
  env: string;
  boolean?: boolean;
  default?: string;
  help: string;
}

/** Every option, in the order `--help` lists them. */
export const OPTIONS = {
  kubeconfig: {
    flag: 'kubeconfig',
    env: 'KUBECONFIG',
    help: 'Path to a kubeconfig. Default: in-cluster config, else ~/.kube/config.',
  },
  watchNamespaces: {
    flag: 'watch-namespaces',
    env: 'SMO_WATCH_NAMESPACES',
    default: '',
    help: 'Comma-separated namespaces to watch. Default: all namespaces.',
  },
  labelSelector: {
    flag: 'label-selector',
    env: 'SMO_LABEL_SELECTOR',
    default: '',
    help: 'Only reconcile custom resources whose labels match (sharding across deployments).',
  },
  concurrency: {
    flag: 'concurrency',
    env: 'SMO_CONCURRENCY',
    default: '16',
    help: 'Concurrent reconciles per controller (1-1000).',
  },
  metricsBindAddress: {
    flag: 'metrics-bind-address',
    env: 'SMO_METRICS_BIND_ADDRESS',
    default: ':8080',
    help: 'Address of the /metrics endpoint; "0" disables it.',
  },
  healthProbeBindAddress: {
    flag: 'health-probe-bind-address',
    env: 'SMO_HEALTH_PROBE_BIND_ADDRESS',
    default: ':8081',
    help: 'Address of the /healthz and /readyz endpoints; "0" disables them.',
  },
  leaderElect: {
    flag: 'leader-elect',
    env: 'SMO_LEADER_ELECT',
    boolean: true,
    default: 'false',
    help: 'Elect a leader with a coordination.k8s.io Lease; only the leader reconciles.',
  },
  leaderElectionId: {
    flag: 'leader-election-id',
    env: 'SMO_LEADER_ELECTION_ID',
    default: 'secrets-manager-operator',
    help: 'Name of the leader election Lease.',
  },
  leaderElectionNamespace: {
    flag: 'leader-election-namespace',
    env: 'SMO_LEADER_ELECTION_NAMESPACE',
    default: '',
    help: "Namespace of the Lease. Default: the pod's namespace.",
  },
  leaseDuration: {
    flag: 'leader-election-lease-duration',
    env: 'SMO_LEADER_ELECTION_LEASE_DURATION',
    default: '15s',
    help: 'How long a standby waits after the last renewal before taking over.',
  },
  renewDeadline: {
    flag: 'leader-election-renew-deadline',
    env: 'SMO_LEADER_ELECTION_RENEW_DEADLINE',
    default: '10s',
    help: 'How long the leader keeps retrying a renewal before it stops working.',
  },
  retryPeriod: {
    flag: 'leader-election-retry-period',
    env: 'SMO_LEADER_ELECTION_RETRY_PERIOD',
    default: '2s',
    help: 'How often to try to acquire or renew the Lease.',
  },
  logLevel: {
    flag: 'log-level',
    env: 'SMO_LOG_LEVEL',
    default: 'info',
    help: 'trace, debug, info, warn, error or fatal.',
  },
  resyncPeriod: {
    flag: 'resync-period',
    env: 'SMO_RESYNC_PERIOD',
    default: '10h',
    help: 'How often informers relist and every resource is reconciled again.',
  },
  shutdownTimeout: {
    flag: 'shutdown-timeout',
    env: 'SMO_SHUTDOWN_TIMEOUT',
    default: '25s',
    help: 'Bound on graceful shutdown: in-flight reconciles, then releasing the Lease.',
  },
} as const satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof OPTIONS;
type RawConfig = Record<OptionName, string | undefined>;

/** Thrown for any invalid flag or environment value; `message` is one line a human can act on. */
export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG';
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function duration(minMs: number, maxMs: number) {
  return z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a duration such as 500ms, 15s, 2m or 1h30m',
      });
      return z.NEVER;
    }
    if (ms < minMs || ms > maxMs) {
      ctx.addIssue({
        code: 'custom',
        message: `must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)}`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

const bindAddress = z.string().transform((s, ctx) => {
  const addr = parseBindAddress(s);
  if (addr === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be [host]:port such as ":8080" or "127.0.0.1:8080", or "0" to disable',
    });
    return z.NEVER;
  }
  return addr;
});

const boolean = z.string().transform((s, ctx) => {
  const v = s.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  ctx.addIssue({ code: 'custom', message: 'must be true or false' });
  return z.NEVER;
});

const optionalText = z
  .string()
  .optional()
  .transform((s) => (s?.trim() ? s.trim() : undefined));

const schema = z
  .object({
    kubeconfig: optionalText,
    watchNamespaces: z.string().transform((s, ctx) => {
      const list = [
        ...new Set(
          s
            .split(',')
            .map((n) => n.trim())
            .filter((n) => n !== ''),
        ),
      ];
      const bad = list.filter((n) => !isNamespaceName(n));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `not namespace names: ${bad.join(', ')}` });
        return z.NEVER;
      }
      return list;
    }),
    labelSelector: optionalText.refine((s) => s === undefined || isLabelSelector(s), {
      message: 'must be a label selector such as "shard=a" or "tier in (a,b)"',
    }),
    concurrency: z
      .string()
      .regex(/^\s*\d+\s*$/, { message: 'must be a whole number' })
      .transform(Number)
      .pipe(
        z
          .number()
          .int()
          .min(1, { message: 'must be at least 1' })
          .max(1000, { message: 'must be at most 1000' }),
      ),
    metricsBindAddress: bindAddress,
    healthProbeBindAddress: bindAddress,
    leaderElect: boolean,
    leaderElectionId: z.string().regex(/^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/, {
      message: 'must be a lowercase DNS name such as "secrets-manager-operator"',
    }),
    leaderElectionNamespace: optionalText.refine((s) => s === undefined || isNamespaceName(s), {
      message: 'must be a namespace name',
    }),
    leaseDuration: duration(1000, 3_600_000),
    renewDeadline: duration(500, 3_600_000),
    retryPeriod: duration(100, 3_600_000),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'], {
      message: 'must be one of trace, debug, info, warn, error, fatal',
    }),
    resyncPeriod: duration(60_000, 7 * 24 * 3_600_000),
    shutdownTimeout: duration(0, 600_000),
  })
  .superRefine((c, ctx) => {
    // client-go's own sanity rules: a leader must give up before a standby may take over.
    if (c.renewDeadline >= c.leaseDuration) {
      ctx.addIssue({
        code: 'custom',
        path: ['renewDeadline'],
        message: 'must be shorter than the lease duration',
      });
    }
    if (c.retryPeriod * 1.2 >= c.renewDeadline) {
      ctx.addIssue({
        code: 'custom',
        path: ['retryPeriod'],
        message: 'must be shorter than the renew deadline divided by 1.2',
      });
    }
  });

/** Reads `--name=value`, `--name value` and bare boolean `--name`; rejects anything else. */
function readFlags(argv: readonly string[]): Partial<RawConfig> {
  const byFlag = new Map<string, OptionName>();
  for (const [name, spec] of Object.entries(OPTIONS)) byFlag.set(spec.flag, name as OptionName);
  const out: Partial<RawConfig> = {};
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const m = /^--?([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    const name = m ? byFlag.get(m[1] ?? '') : undefined;
    if (!m || !name) {
      problems.push(`unknown argument "${arg}" (see --help)`);
      continue;
    }
    const spec: OptionSpec = OPTIONS[name];
    let value = m[2];
    if (value === undefined) {
      const next = argv[i + 1];
      if (spec.boolean) {
        value = 'true';
      } else if (next === undefined || next.startsWith('--')) {
        problems.push(`--${spec.flag} needs a value`);
        continue;
      } else {
        value = next;
        i++;
      }
    }
    out[name] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

/**
 * Builds the configuration from `argv` (without the node and script paths) and `env`.
 * Throws `ConfigError` naming each bad flag, its environment variable and the value given.
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Config {
  const flags = readFlags(argv);
  const raw = {} as RawConfig;
  const source = {} as Record<OptionName, string>;
  for (const [key, spec] of Object.entries(OPTIONS) as Array<[OptionName, OptionSpec]>) {
    const fromFlag = flags[key];
    const fromEnv = env[spec.env];
    if (fromFlag !== undefined) {
      raw[key] = fromFlag;
      source[key] = `--${spec.flag}`;
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw[key] = fromEnv;
      source[key] = `${spec.env} (environment)`;
    } else {
      raw[key] = spec.default;
      source[key] = `--${spec.flag} (default)`;
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path[0] as OptionName | undefined;
      if (key === undefined || !(key in OPTIONS)) return issue.message;
      return `${source[key]} ${issue.message} (got "${raw[key] ?? ''}")`;
    });
    throw new ConfigError(problems);
  }
  const c = parsed.data;
  return {
    kubeconfig: c.kubeconfig,
    watchNamespaces: c.watchNamespaces,
    labelSelector: c.labelSelector,
    concurrency: c.concurrency,
    metricsBindAddress: c.metricsBindAddress,
    healthProbeBindAddress: c.healthProbeBindAddress,
    leaderElection: {
      enabled: c.leaderElect,
      id: c.leaderElectionId,
      namespace: c.leaderElectionNamespace,
      leaseDurationMs: c.leaseDuration,
      renewDeadlineMs: c.renewDeadline,
      retryPeriodMs: c.retryPeriod,
    },
    logLevel: c.logLevel,
    resyncPeriodMs: c.resyncPeriod,
    shutdownTimeoutMs: c.shutdownTimeout,
  };
}

/** True when the arguments ask for the usage text. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

export function usage(): string {
  const lines = ['Usage: secrets-manager-operator [flags]', '', 'Flags (environment variable):'];
  for (const spec of Object.values(OPTIONS) as OptionSpec[]) {
    const def = spec.default ? ` [default: ${spec.default}]` : '';
    lines.push(`  --${spec.flag} (${spec.env})`, `      ${spec.help}${def}`);
  }
  return lines.join('\n');
}
