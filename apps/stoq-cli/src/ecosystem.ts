// The `npm start` ecosystem folder (.stoq/ecosystem), found from a directory upward: commands run
// inside a checkout after `npm start` need no --dns or --identity.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The nearest `.stoq/ecosystem` from `from` upward, with TrustChain's serve.json in it: its DNS
 * address and the CLI identity the launcher enrolled (`cli/`).
 */
export function findEcosystem(from: string): { dir: string; dns: string; cli: string } | null {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const eco = join(dir, '.stoq', 'ecosystem');
    const serveJson = join(eco, 'trustchain', 'serve.json');
    if (existsSync(serveJson)) {
      const info = JSON.parse(readFileSync(serveJson, 'utf8')) as { dns?: string };
      if (typeof info.dns === 'string') return { dir: eco, dns: info.dns, cli: join(eco, 'cli') };
    }
    if (dirname(dir) === dir) return null;
  }
}
