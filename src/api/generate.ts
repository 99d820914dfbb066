// `npm run generate`: writes the CRDs derived from the zod schemas to crds/ and to the Helm
// chart's crds/ (identical copies; Helm installs that folder as-is).
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_HEADER, renderCrdFiles } from './crd.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CRD_DIRECTORIES = ['crds', join('deploy', 'helm', 'crds')].map((dir) =>
  join(ROOT, dir),
);

async function main(): Promise<void> {
  const files = renderCrdFiles();
  for (const directory of CRD_DIRECTORIES) {
    await mkdir(directory, { recursive: true });
    // Remove CRDs we generated earlier that no longer exist (a renamed kind), nothing else.
    const wanted = new Set(files.map((file) => file.fileName));
    for (const entry of await readdir(directory)) {
      if (entry.endsWith('.yaml') && !wanted.has(entry)) {
        const text = await readFile(join(directory, entry), 'utf8');
        if (text.startsWith(CRD_HEADER)) await rm(join(directory, entry));
      }
    }
    for (const file of files) await writeFile(join(directory, file.fileName), file.yaml);
  }
  console.log(`wrote ${files.length} CRDs to ${CRD_DIRECTORIES.join(' and ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
