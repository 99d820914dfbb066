import { CliError, parseCliArgs, USAGE } from './cli-args.ts';
import { startEmulator } from './index.ts';
import { loadSeedFile } from './seed.ts';

/** `npm run emulator -- --port <p> --api-key <key>`: runs until SIGINT or SIGTERM. */
async function main(): Promise<number> {
  let config: ReturnType<typeof parseCliArgs>;
  try {
    config = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`secrets-manager-emulator: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (config.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const seed = config.seedFile ? await loadSeedFile(config.seedFile) : undefined;
  const emulator = await startEmulator({ ...config.options, ...(seed ? { seed } : {}) });
  const keys = (config.options.apiKeys?.length ?? 0) + (seed?.apiKeys.length ?? 0);
  process.stdout.write(`secrets-manager-emulator listening on ${emulator.url}\n`);
  if (keys === 0) {
    process.stderr.write(
      'secrets-manager-emulator: no API key given (--api-key): nothing can log in\n',
    );
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await emulator.stop();
  process.stdout.write('secrets-manager-emulator stopped\n');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`secrets-manager-emulator: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
