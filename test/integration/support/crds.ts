// Installs the project's generated CRDs and waits until the API server serves them.
import {
  ApiextensionsV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { renderCrdFiles } from '../../../src/api/crd.ts';

export async function installCrds(
  kc: KubeConfig,
  fieldManager = 'integration-tests',
): Promise<void> {
  const extensions = kc.makeApiClient(ApiextensionsV1Api);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const crds = renderCrdFiles().map((file) => file.crd);
  // Server-side apply with force: idempotent when several files install the same CRDs.
  for (const crd of crds) {
    await extensions.patchCustomResourceDefinition(
      { name: crd.metadata.name, body: crd, fieldManager, force: true },
      apply,
    );
  }
  const deadline = Date.now() + 30_000;
  for (const crd of crds) {
    for (;;) {
      const got = await extensions.readCustomResourceDefinition({ name: crd.metadata.name });
      const established = got.status?.conditions?.find((c) => c.type === 'Established');
      if (established?.status === 'True') break;
      if (Date.now() > deadline)
        throw new Error(`${crd.metadata.name} was not Established in 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
