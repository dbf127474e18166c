// Shared Jest settings for every package. Tests run against TypeScript sources (ts-jest,
// transpile-only; `npm run typecheck` does the type checking) and resolve sibling packages to
// their src/ so a test never runs stale dist/ output. @stoq/native is the built addon.
const path = require('node:path');
const root = __dirname;

module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    '^.+\\.[tj]s$': [
      'ts-jest',
      { tsconfig: { module: 'commonjs', moduleResolution: 'node10', allowJs: true, esModuleInterop: true, target: 'ES2022', isolatedModules: true } },
    ],
  },
  // @noble/* ship ESM only; let ts-jest turn them into CommonJS for the test runtime.
  transformIgnorePatterns: ['/node_modules/(?!@noble/)'],
  moduleNameMapper: {
    '^@noble/post-quantum/(.*)\\.js$': path.join(root, 'node_modules/@noble/post-quantum/$1.js'),
    '^@noble/hashes/(.*)\\.js$': path.join(root, 'node_modules/@noble/hashes/$1.js'),
    '^@noble/curves/(.*)\\.js$': path.join(root, 'node_modules/@noble/curves/$1.js'),
    '^@stoq/core$': path.join(root, 'libs/stoq-core/src/index.ts'),
    '^@stoq/rpc$': path.join(root, 'libs/stoq-rpc/src/index.ts'),
    '^@stoq/ct-log$': path.join(root, 'libs/ct-log/src/index.ts'),
    '^@stoq/four-proof$': path.join(root, 'libs/four-proof/src/index.ts'),
    '^@stoq/ipv6$': path.join(root, 'libs/ipv6/src/index.ts'),
    '^@stoq/der$': path.join(root, 'libs/der/src/index.ts'),
    '^@stoq/catalog-receipt$': path.join(root, 'libs/catalog-receipt/src/index.ts'),
    '^@stoq/service$': path.join(root, 'libs/stoq-service/src/index.ts'),
    '^@stoq/protos$': path.join(root, 'libs/protos/src/index.ts'),
    '^@stoq/consensus$': path.join(root, 'libs/consensus/src/index.ts'),
    '^@stoq/consensus-approval$': path.join(root, 'libs/consensus-approval/src/index.ts'),
    '^@stoq/client$': path.join(root, 'libs/stoq-client/src/index.ts'),
  },
  testTimeout: 60000,
};
