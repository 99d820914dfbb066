// Whether a container engine is reachable, and getting an image built by Docker into k3s's
// containerd (k3s does not see Docker's images; there is no registry in between).
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { StartedK3sContainer } from '@testcontainers/k3s';
import { getContainerRuntimeClient } from 'testcontainers';

export type DockerAvailability = { available: true } | { available: false; reason: string };

/** Asks testcontainers for a container runtime; never throws. */
export async function dockerAvailability(): Promise<DockerAvailability> {
  try {
    await getContainerRuntimeClient();
    return { available: true };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { available: false, reason: `no container engine (${reason})` };
  }
}

/** `docker save` of `image`, copied into the k3s container and imported into its containerd. */
export async function loadImageIntoK3s(k3s: StartedK3sContainer, image: string): Promise<void> {
  const client = await getContainerRuntimeClient();
  const dir = mkdtempSync(join(tmpdir(), 'smo-image-tar-'));
  const tar = join(dir, 'image.tar');
  try {
    const stream = await client.container.dockerode.getImage(image).get();
    await pipeline(stream, createWriteStream(tar));
    await k3s.copyFilesToContainer([{ source: tar, target: '/tmp/operator-image.tar' }]);
    const result = await k3s.exec([
      'ctr',
      '-n',
      'k8s.io',
      'images',
      'import',
      '/tmp/operator-image.tar',
    ]);
    if (result.exitCode !== 0) {
      throw new Error(`ctr images import exited ${result.exitCode}: ${result.output}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The address at which pods in k3s reach a port of this host that
 * `TestContainers.exposeHostPorts` forwarded: the port forwarder's IP, which testcontainers wrote
 * into the k3s container's /etc/hosts as host.testcontainers.internal. Pods do not resolve that
 * name (their DNS is CoreDNS), so they get the IP.
 */
export async function hostAddressSeenFromK3s(k3s: StartedK3sContainer): Promise<string> {
  const hosts = await readFileFromContainer(k3s, '/etc/hosts');
  const line = hosts
    .split('\n')
    .find((l) => l.split(/\s+/).includes('host.testcontainers.internal'));
  const ip = line?.trim().split(/\s+/)[0];
  if (!ip) throw new Error('host.testcontainers.internal is not in the k3s container /etc/hosts');
  return ip;
}

/**
 * One file through Docker's archive API (no shell or `cat` needed in the image): a tar stream
 * with a single entry, whose size is the octal field at offset 124 of the 512-byte header.
 */
async function readFileFromContainer(k3s: StartedK3sContainer, path: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await k3s.copyArchiveFromContainer(path)) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  }
  const tar = Buffer.concat(chunks);
  const size = Number.parseInt(
    tar.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(),
    8,
  );
  if (!Number.isFinite(size)) throw new Error(`cannot read ${path} from the container archive`);
  return tar.subarray(512, 512 + size).toString('utf8');
}
