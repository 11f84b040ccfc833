/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__test__'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  // Tests import the package by its name, exactly as a user would.
  moduleNameMapper: {
    '^taskforce-fine-tune$': '<rootDir>/index.js',
  },
  testTimeout: 60000,
}
