// Throwaway certificates for TLS tests, made with openssl (CI installs it; see .ci/run).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Issued {
  /** PEM text. */
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/**
 * A CA in `dir` (P-256, two days) that issues certificates: `issue('srv', '/CN=x',
 * 'subjectAltName=IP:127.0.0.1')` writes srv.key and srv.crt next to ca.crt.
 */
export function testCa(dir: string, subject = '/CN=test CA') {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const days = ['-days', '2'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', ...days, '-subj', subject]);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    ca: read('ca.crt'),
    caFile: join(dir, 'ca.crt'),
    issue(name: string, subject: string, extension?: string): Issued {
      run(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
      if (extension) writeFileSync(join(dir, `${name}.cnf`), `${extension}\n`);
      const ext = extension ? ['-extfile', `${name}.cnf`] : [];
      const ca = ['-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'];
      run(['x509', '-req', '-in', `${name}.csr`, ...ca, '-out', `${name}.crt`, ...days, ...ext]);
      return {
        cert: read(`${name}.crt`),
        key: read(`${name}.key`),
        certFile: join(dir, `${name}.crt`),
        keyFile: join(dir, `${name}.key`),
      };
    },
  };
}
