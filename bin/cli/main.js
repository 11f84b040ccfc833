'use strict'
// The command line: picks the command, parses its flags, runs it, prints errors and exits
// with the code of the table in errors.js.

const COMMANDS = require('./commands')
const { EXIT, exitCodeOf, cliError } = require('./errors')
const { optionSpecs, flagOf, parse } = require('./options')
const { state, addSecret, redact, out, err, jsonLine, issueLine } = require('./render')
const { topHelp, commandHelp, usageLine } = require('./help')

/** Keys the environment gives the core: never printed, even inside an API's error message. */
const SECRET_ENV = ['OPENAI_API_KEY', 'AZURE_OPENAI_API_KEY', 'AZURE_ACCESS_TOKEN']

/** The flag (and --config key) an error's `param` names, as a hint line. */
function optionHint(e, code, message) {
  const names = optionSpecs().map((s) => s.name)
  const param = e && typeof e.param === 'string' ? e.param : undefined
  // The option at fault: `integrations[0].type` is the --integrations flag.
  const option = param && names.find((n) => param === n || param.startsWith(`${n}.`) || param.startsWith(`${n}[`))
  if ((code === 'ERR_MISSING_OPTION' || code === 'ERR_INVALID_OPTION') && option) {
    return `  (the --${flagOf(option)} flag, or "${option}" in --config)`
  }
  if (code === 'ERR_DUPLICATE_MODEL_KEY' && !/onExisting|on-existing/.test(message)) {
    return '  (--on-existing newVersion registers a new version of the key instead)'
  }
  if (code === 'ERR_MISSING_OPTION' && /missing required option/.test(message)) {
    const missing = names.filter((o) => new RegExp(`\\b${o}\\b`).test(message))
    if (missing.length) return `  (pass ${missing.map((o) => `--${flagOf(o)}`).join(', ')})`
  }
  return null
}

/** Prints an error (text on stderr; with --json, also a JSON line on stdout) and returns its exit code. */
function reportError(e, command) {
  const code = (e && typeof e.code === 'string' && e.code) || 'ERR_UNEXPECTED'
  const message = redact((e && e.message) || String(e))
  err(`error [${code}]: ${message}`)
  const details = []
  if (e && e.status) details.push(`HTTP ${e.status}`)
  if (e && e.apiCode) details.push(`api code ${e.apiCode}`)
  if (e && e.jobId) details.push(`job ${e.jobId}`)
  if (e && e.requestId) details.push(`request ${e.requestId}`)
  if (details.length) err(`  (${details.join(', ')})`)
  if (e && e.report && Array.isArray(e.report.errors)) {
    for (const i of e.report.errors) err(`  - ${issueLine(i)}`)
  }
  const hint = optionHint(e, code, message)
  if (hint) err(hint)
  if (code === 'ERR_USAGE') err(usageLine(command))
  if (state.json) {
    const obj = { type: 'error', code, message }
    for (const k of ['status', 'requestId', 'jobId', 'apiCode', 'apiType', 'param', 'report']) {
      if (e && e[k] !== undefined && e[k] !== null) obj[k] = e[k]
    }
    jsonLine(obj)
  }
  return exitCodeOf(code)
}

async function main(argv) {
  state.json = argv.includes('--json')
  for (const k of SECRET_ENV) addSecret(process.env[k])
  const [name, ...rest] = argv
  if (name === undefined) {
    err(topHelp())
    return EXIT.BAD_INPUT
  }
  if (name === '--version' || name === '-V') {
    out(require('../../package.json').version)
    return EXIT.OK
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    out(name === 'help' && rest[0] && Object.hasOwn(COMMANDS, rest[0]) ? commandHelp(rest[0]) : topHelp())
    return EXIT.OK
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    const message = name.startsWith('-') ? `unknown option ${JSON.stringify(name)} (a command comes first)` : `unknown command ${JSON.stringify(name)}`
    return reportError(cliError('ERR_USAGE', message))
  }
  try {
    const args = parse(COMMANDS[name], rest)
    if (args.help) {
      out(commandHelp(name))
      return EXIT.OK
    }
    return await COMMANDS[name].run(args)
  } catch (e) {
    return reportError(e, name)
  }
}

/** Runs the command line and exits with its code. */
function start(argv) {
  process.stdout.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(EXIT.OK)
    throw e
  })
  main(argv).then(
    (code) => {
      process.exitCode = code
      // Exit even if a native handle lingers (streams to pipes and files are synchronous on Linux).
      setTimeout(() => process.exit(code), 100).unref()
    },
    (e) => {
      process.stderr.write(`error [ERR_UNEXPECTED]: ${redact(e && e.stack ? e.stack : String(e))}\n`)
      process.exit(EXIT.UNEXPECTED)
    },
  )
}

module.exports = { start }
