// The usual set-up of an integration file: a namespace of its own, the emulator behind a
// SecretStore in it, and an operator process watching it.
import { createNamespace } from './cluster.ts';
import { startTestEmulator, type TestEmulator } from './emulator.ts';
import { type RunningOperator, startOperator } from './operator.ts';

export interface Fixture {
  namespace: string;
  sm: TestEmulator;
  operator: RunningOperator;
}

/** Starts the fixture; `prefix` names the namespace (a random suffix is added). */
export async function startFixture(prefix: string): Promise<Fixture> {
  const namespace = await createNamespace(prefix);
  const sm = await startTestEmulator({ namespace });
  const operator = await startOperator({ namespaces: [namespace] });
  await sm.waitReady();
  return { namespace, sm, operator };
}

/** Stops what `startFixture` started (either may be missing if the set-up failed). */
export async function stopFixture(
  operator: RunningOperator | undefined,
  sm: TestEmulator | undefined,
): Promise<void> {
  await operator?.stop();
  await sm?.stop();
}
