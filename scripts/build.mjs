// `npm run build`: install if needed, then build everything (Rust addon + TypeScript packages).
import { ensureBuilt, ensureInstalled } from './bootstrap.mjs';

ensureInstalled();
ensureBuilt();
