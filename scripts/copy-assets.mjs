// Copies non-TypeScript assets that compiled code loads at runtime (e.g. .proto schemas) from a
// source tree to the build output, keeping their relative paths.
//   usage: node scripts/copy-assets.mjs <srcDir> <outDir> <.ext> [<.ext> ...]
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const [srcDir, outDir, ...exts] = process.argv.slice(2);
if (!srcDir || !outDir || exts.length === 0) {
  console.error('usage: node scripts/copy-assets.mjs <srcDir> <outDir> <.ext> [<.ext> ...]');
  process.exit(2);
}

let copied = 0;
function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const from = join(dir, entry.name);
    if (entry.isDirectory()) walk(from);
    else if (entry.isFile() && exts.some((ext) => entry.name.endsWith(ext))) {
      const to = join(outDir, relative(srcDir, from));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
      copied++;
    }
  }
}
walk(srcDir);
console.log(`copy-assets: ${copied} file(s) (${exts.join(', ')}) from ${srcDir} to ${outDir}`);
