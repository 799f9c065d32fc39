// Every comparison of a secret goes through src/security/compare.ts (constant time): a guard over the
// sources, so a later `token === expected` cannot slip in unnoticed.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { safeEqual } from '../../src/security/compare.ts';

const root = resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.includes('.test.'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

const files = [...sources('src'), ...sources('sensors')];
const secretName = '(?:token|secret|bearer|signature|password|apiToken|expected|hmac)\\w*';
// `name === other` or `other !== name`, but not a check against undefined, null, a literal or a length.
const plainComparison = new RegExp(
  `\\b${secretName}\\s*[!=]==?\\s*(?!undefined|null|true|false|['"\`\\d])[A-Za-z_]|[A-Za-z_)\\]]\\s*[!=]==?\\s*${secretName}\\b`,
  'i',
);

describe('secret comparisons', () => {
  it('use safeEqual: no plain === on a secret anywhere in src/ or sensors/', () => {
    const offenders = files.flatMap((file) =>
      readFileSync(join(root, file), 'utf8')
        .split('\n')
        .map((line, index) => ({ where: `${file}:${index + 1}`, line }))
        .filter(({ line }) => !line.trim().startsWith('//') && plainComparison.test(line)),
    );
    expect(offenders).toEqual([]);
  });

  it('timingSafeEqual lives in compare.ts only, and every credential check imports safeEqual', () => {
    const users = files.filter((file) => readFileSync(join(root, file), 'utf8').includes('timingSafeEqual'));
    expect(users).toEqual(['src/security/compare.ts']);
    for (const file of [
      'sensors/webhook/sensor.ts',
      'sensors/minio/sensor.ts',
      'src/server/api.ts',
      'src/server/dashboard/auth.ts',
      'src/server/dashboard/index.ts',
    ])
      expect(readFileSync(join(root, file), 'utf8'), file).toMatch(/\bsafeEqual\(/);
  });

  it('the guard would catch a plain comparison', () => {
    expect(plainComparison.test('if (token === apiToken) return;')).toBe(true);
    expect(plainComparison.test('if (given !== expected) throw error;')).toBe(true);
    expect(plainComparison.test('if (token === undefined) return;')).toBe(false);
  });

  it('safeEqual tells equal from different values, whatever their lengths', () => {
    expect(safeEqual('s3cret', 's3cret')).toBe(true);
    expect(safeEqual('s3cret', 's3creT')).toBe(false);
    expect(safeEqual('s3cret', 's3cret-and-more')).toBe(false);
    expect(safeEqual('', 'x')).toBe(false);
  });
});
