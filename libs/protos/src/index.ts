// @stoq/protos: every service's .proto (proto/) and the TypeScript generated from it (src/).
// Import one service's module: `import { trustchain } from '@stoq/protos'`.
export * as trustchain from './trustchain';
export * as ngauge from './ngauge';
export * as caesar from './caesar';
export * as hypermesh from './hypermesh';
export * as catalog from './catalog';
