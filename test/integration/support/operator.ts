// Runs the real operator (Manager + registerControllers) in-process against the shared API
// server, with leader election off and its JSON log captured, so tests can read what it logged.
import { Writable } from 'node:stream';
import { parseConfig } from '../../../src/config/config.ts';
import {
  type ControllerContext,
  type ControllerDeps,
  registerControllers,
} from '../../../src/controllers/index.ts';
import type { Clock } from '../../../src/runtime/clock.ts';
import { loadKubeConfig } from '../../../src/runtime/kube.ts';
import { createLogger, type LogLevel } from '../../../src/runtime/logger.ts';
import { Manager } from '../../../src/runtime/manager.ts';
import { kubeconfigPath as sharedKubeconfigPath } from './cluster.ts';
import { TEST_STORE_LABEL } from './emulator.ts';

export interface StartOperatorOptions {
  kubeconfigPath?: string;
  /** Namespaces to watch (the test's own); the first also holds the data hash key Secret. */
  namespaces?: string[];
  clock?: Clock;
  /** More command-line flags, e.g. ['--concurrency', '8']. */
  extraArgs?: string[];
  /** Default debug, so log-redaction tests see everything the operator says. */
  logLevel?: LogLevel;
  deps?: ControllerDeps;
  /** Also write the log lines to stderr (debugging a test). */
  echo?: boolean;
}

export interface RunningOperator {
  manager: Manager;
  context: ControllerContext;
  metricsUrl: string;
  /** Every JSON log line so far, newline-separated. */
  logs(): string;
  /** The log lines parsed. */
  logLines(): Array<Record<string, unknown>>;
  /** Reads `/metrics` as text. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export async function startOperator(options: StartOperatorOptions = {}): Promise<RunningOperator> {
  const path = options.kubeconfigPath ?? sharedKubeconfigPath();
  const namespaces = options.namespaces ?? [];
  const argv = [
    '--kubeconfig',
    path,
    '--metrics-bind-address',
    '127.0.0.1:0',
    '--health-probe-bind-address',
    '127.0.0.1:0',
    '--log-level',
    options.logLevel ?? 'debug',
    ...(namespaces.length > 0 ? ['--watch-namespaces', namespaces.join(',')] : []),
    ...(options.extraArgs ?? []),
  ];
  const config = parseConfig(argv, {});
  const kubeConfig = loadKubeConfig(config.kubeconfig, {});
  const chunks: string[] = [];
  const echo = options.echo ?? process.env.SMO_TEST_ECHO_LOGS === '1';
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const text = chunk.toString();
      chunks.push(text);
      if (echo) process.stderr.write(text);
      done();
    },
  });
  const log = createLogger({ level: config.logLevel, destination });
  const manager = new Manager({
    config,
    kubeConfig,
    log,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const context = registerControllers(manager, {
    ...(namespaces[0] !== undefined
      ? {
          operatorNamespace: namespaces[0],
          // Only this test's ClusterSecretStores (see startTestEmulator's testRun label).
          clusterStoreLabelSelector: `${TEST_STORE_LABEL}=${namespaces[0]}`,
          // And only its own ClusterExternalSecrets, labelled the same way.
          clusterExternalSecretLabelSelector: `${TEST_STORE_LABEL}=${namespaces[0]}`,
        }
      : {}),
    ...options.deps,
  });
  await manager.start();
  const metricsAt = manager.addresses.metrics;
  const metricsUrl = metricsAt ? `http://${metricsAt}/metrics` : '';
  let stopped: Promise<void> | undefined;
  return {
    manager,
    context,
    metricsUrl,
    logs: () => chunks.join(''),
    logLines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => {
          try {
            return JSON.parse(line) as Record<string, unknown>;
          } catch {
            return { msg: line };
          }
        }),
    metrics: async () => (await fetch(metricsUrl)).text(),
    stop() {
      stopped ??= (async () => {
        await manager.stop();
        await context.events.flush();
        await context.pool.close();
      })();
      return stopped;
    },
  };
}
