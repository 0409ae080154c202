module.exports = {
  testEnvironment: 'node',
  // Only __test__ is crawled: .cache holds Debian roots, Node binaries and scratch projects.
  roots: ['<rootDir>/__test__'],
  testMatch: ['<rootDir>/__test__/**/*.test.js'],
  // The release artifacts' checks need `npm run build:all` first: `npm run test:platforms` runs them.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/__test__/platforms/'],
  testTimeout: 30_000,
}
