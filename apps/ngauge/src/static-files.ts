// The dashboard's static files, bundled into dist/static by scripts/copy-static.js at build time
// (the page's own files and uPlot's browser build): no CDN at run time, nothing else served.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const STATIC_DIR = join(__dirname, 'static');
const STATIC_FILES: Record<string, string> = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
  'uPlot.min.css': 'text/css; charset=utf-8',
  'index.html': 'text/html; charset=utf-8',
};

const staticCache = new Map<string, string>();

/** A dashboard file by name (only the bundled ones), read once and kept. */
export function staticFile(name: string): { status: number; type: string; body: string } {
  const type = STATIC_FILES[name];
  if (type === undefined) return { status: 404, type: 'text/plain', body: `no such file ${name}\n` };
  let body = staticCache.get(name);
  if (body === undefined) {
    try {
      body = readFileSync(join(STATIC_DIR, name), 'utf8');
    } catch {
      return { status: 404, type: 'text/plain', body: `dashboard file ${name} is not built (npm run build -w @stoq/ngauge)\n` };
    }
    staticCache.set(name, body);
  }
  return { status: 200, type, body };
}

