module.exports = { ...require('../jest.preset.js'), displayName: '@stoq/tests-e2e', rootDir: __dirname };
