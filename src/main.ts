import { ConfigError, parseConfig, usage, wantsHelp } from './config/config.ts';
import { registerControllers } from './controllers/index.ts';
import { errorMessage } from './runtime/errors.ts';
import { KubeConfigError, loadKubeConfig } from './runtime/kube.ts';
import { createLogger } from './runtime/logger.ts';
import { Manager, ManagerError } from './runtime/manager.ts';

/** Adds informers and controllers to the manager before it starts. */
export type Register = (manager: Manager) => void | Promise<void>;

const NAME = 'secrets-manager-operator';

/**
 * Runs the operator until SIGTERM/SIGINT (exit 0), a lost Lease (exit 1), or bad configuration
 * (exit 2, one line on stderr). A second signal exits at once.
 */
export async function run(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  register: Register = () => {},
): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  let config: ReturnType<typeof parseConfig>;
  let kubeConfig: ReturnType<typeof loadKubeConfig>;
  try {
    config = parseConfig(argv, env);
    kubeConfig = loadKubeConfig(config.kubeconfig, env);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof KubeConfigError) {
      process.stderr.write(`${NAME}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const log = createLogger({ level: config.logLevel });
  const manager = new Manager({ config, kubeConfig, log });
  await register(manager);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    void manager.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await manager.start();
  } catch (err) {
    const message = err instanceof ManagerError ? err.message : errorMessage(err);
    log.fatal({ err }, 'cannot start');
    process.stderr.write(`${NAME}: ${message}\n`);
    await manager.stop();
    return err instanceof ManagerError && err.code === 'LEADER_ELECTION_NAMESPACE' ? 2 : 1;
  }
  const exit = await manager.wait();
  return exit.reason === 'leader-lost' ? 1 : 0;
}

if (import.meta.main) {
  const code = await run(process.argv.slice(2), process.env, (manager) => {
    registerControllers(manager);
  });
  // Pending keep-alive sockets must not hold the process once the manager has stopped.
  process.exit(code);
}
