import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { byCodeUnit } from './order.ts';

describe('byCodeUnit', () => {
  it('orders as the default sort does, not as a locale would', () => {
    const words = ['b', 'a_1', 'B', 'a1', 'a-1', 'a', 'é', 'e'];
    expect([...words].sort(byCodeUnit)).toEqual([...words].sort());
    // A locale's collation puts 'a' before 'B' and '_' before digits; code units do not.
    expect(['a', 'B'].sort(byCodeUnit)).toEqual(['B', 'a']);
    expect(['a_1', 'a1'].sort(byCodeUnit)).toEqual(['a1', 'a_1']);
    expect(byCodeUnit('x', 'x')).toBe(0);
  });

  it('is what the operator sorts with: no locale collation anywhere in src/', () => {
    const src = fileURLToPath(new URL('../../', import.meta.url));
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
    );
    expect(files.length).toBeGreaterThan(100);
    const collating = files.filter((f) =>
      /\.localeCompare\(|Intl\.Collator/.test(readFileSync(join(src, f), 'utf8')),
    );
    expect(collating).toEqual([]);
  });
});
