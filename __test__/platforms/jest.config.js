// `npm run test:platforms`: the checks of the binaries `npm run build:all` made.
module.exports = {
  rootDir: '../..',
  testEnvironment: 'node',
  roots: ['<rootDir>/__test__/platforms'],
  testMatch: ['<rootDir>/__test__/platforms/**/*.test.js'],
  testTimeout: 60_000,
}
