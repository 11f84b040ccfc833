'use strict'
// The CLI's errors and exit codes: one table, from which `exitCodeOf` and the help text are
// made (the README's table lists the same rows; a test compares them).

const EXIT = {
  OK: 0,
  UNEXPECTED: 1,
  BAD_INPUT: 2,
  API: 3,
  JOB: 4,
  DOCTOR: 5,
  VERDICT: 6,
  ABORTED: 130,
}

/** Each exit code, what it means, and the error codes that give it. */
const EXIT_CODES = [
  { exit: EXIT.OK, meaning: 'success', codes: [] },
  {
    exit: EXIT.UNEXPECTED,
    meaning: 'not supported by this build, no addon loads on this platform, or a bug in the CLI',
    codes: ['ERR_NOT_SUPPORTED', 'ERR_NATIVE_ADDON_NOT_LOADED', 'ERR_UNEXPECTED'],
  },
  {
    exit: EXIT.BAD_INPUT,
    meaning: 'bad input, refused before anything was sent or paid for',
    codes: [
      'ERR_USAGE',
      'ERR_MISSING_OPTION',
      'ERR_INVALID_OPTION',
      'ERR_DUPLICATE_MODEL_KEY',
      'ERR_UNSUPPORTED_BASE_MODEL',
      'ERR_MISSING_API_KEY',
      'ERR_SOURCE_NOT_FOUND',
      'ERR_SOURCE_FETCH',
      'ERR_INVALID_TRAINING_DATA',
      'ERR_MODEL_KEY_IN_PROGRESS',
      'ERR_REGISTRY_CORRUPT',
      'ERR_NOT_FOUND',
      'ERR_COST_LIMIT',
    ],
  },
  {
    exit: EXIT.API,
    meaning: 'API, network and other errors (any code not listed here)',
    codes: [
      'ERR_AUTHENTICATION',
      'ERR_RATE_LIMITED',
      'ERR_QUOTA',
      'ERR_API',
      'ERR_NETWORK',
      'ERR_TIMEOUT',
      'ERR_REGISTRY_IO',
      'ERR_FINE_TUNING_UNAVAILABLE',
      'ERR_DEPLOYMENT_FAILED',
      'ERR_INTERNAL',
    ],
  },
  {
    exit: EXIT.JOB,
    meaning: 'the job failed, was cancelled, or has not finished (import)',
    codes: ['ERR_JOB_FAILED', 'ERR_JOB_CANCELLED', 'ERR_JOB_NOT_FINISHED'],
  },
  { exit: EXIT.DOCTOR, meaning: 'doctor: a registered model stops answering within the window, or already has', codes: [] },
  {
    exit: EXIT.VERDICT,
    meaning: 'eval: the verdict is not met (--require-better and not better, or a score below its --min-score)',
    codes: [],
  },
  { exit: EXIT.ABORTED, meaning: 'aborted by Ctrl-C / SIGTERM', codes: ['ABORT_ERR'] },
]

const BY_CODE = new Map(EXIT_CODES.flatMap((row) => row.codes.map((c) => [c, row.exit])))

/** The exit code of an error code (API and other errors: 3). */
function exitCodeOf(code) {
  return BY_CODE.get(code) ?? EXIT.API
}

/** An error of the CLI itself, with a code like the addon's (`ERR_USAGE`, `ERR_INVALID_OPTION`…). */
function cliError(code, message, extra = {}) {
  const e = new Error(message)
  e.code = code
  Object.assign(e, extra)
  return e
}

module.exports = { EXIT, EXIT_CODES, exitCodeOf, cliError }
