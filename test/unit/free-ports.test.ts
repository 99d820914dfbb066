import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { expect, it } from 'vitest';
import { freePorts } from '../controlplane/controlplane.ts';

const ephemeralLow = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
);

it('picks distinct free ports below the ephemeral range, where no outgoing connection can take them', async () => {
  const ports = await freePorts(8);
  expect(new Set(ports).size).toBe(8);
  for (const port of ports) {
    expect(port).toBeLessThan(ephemeralLow);
    expect(port).toBeGreaterThanOrEqual(1024);
    // Each is free to bind.
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((r) => server.close(r));
  }
});
