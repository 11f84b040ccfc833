#!/usr/bin/env node
// The `fine-tune` command line: train, validate, status, list, show, cancel, pause, resume,
// doctor, emulate.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')

// The addon is loaded on first use, so `--help` and usage errors never need it.
let lib
function ft() {
  if (!lib) {
    try {
      lib = require('..')
    } catch (e) {
      // No addon for this platform: the package's message says what was looked for and what to do.
      process.stderr.write(`error [${(e && e.code) || 'ERR_NATIVE_ADDON_NOT_LOADED'}]: ${e && e.message}\n`)
      process.exit(1)
    }
  }
  return lib
}

// ---------------------------------------------------------------------------------------------
// Exit codes

const EXIT_OK = 0
const EXIT_UNEXPECTED = 1
const EXIT_BAD_INPUT = 2
const EXIT_API = 3
const EXIT_JOB = 4
const EXIT_ABORTED = 130
/** `doctor`: a model stops answering within the window (or already has). */
const EXIT_DOCTOR = 5

const BAD_INPUT_CODES = new Set([
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
])
const JOB_CODES = new Set(['ERR_JOB_FAILED', 'ERR_JOB_CANCELLED', 'ERR_JOB_NOT_FINISHED'])

function exitCodeOf(code) {
  if (code === 'ABORT_ERR') return EXIT_ABORTED
  if (BAD_INPUT_CODES.has(code)) return EXIT_BAD_INPUT
  if (JOB_CODES.has(code)) return EXIT_JOB
  if (code === 'ERR_NOT_SUPPORTED' || code === 'ERR_UNEXPECTED') return EXIT_UNEXPECTED
  return EXIT_API
}

const EXIT_CODES_HELP = `Exit codes:
  0    success
  1    not supported by this build (e.g. validate without validateTrainingData), or a bug in the CLI
  2    bad input: usage errors, ERR_MISSING_OPTION, ERR_INVALID_OPTION, ERR_DUPLICATE_MODEL_KEY,
       ERR_UNSUPPORTED_BASE_MODEL, ERR_MISSING_API_KEY, ERR_SOURCE_NOT_FOUND, ERR_SOURCE_FETCH,
       ERR_INVALID_TRAINING_DATA, ERR_MODEL_KEY_IN_PROGRESS, ERR_REGISTRY_CORRUPT, ERR_NOT_FOUND
  3    API, network and other errors: ERR_AUTHENTICATION, ERR_RATE_LIMITED, ERR_QUOTA, ERR_API,
       ERR_NETWORK, ERR_TIMEOUT, ERR_REGISTRY_IO, ERR_INTERNAL…
  4    the job failed or was cancelled (ERR_JOB_FAILED, ERR_JOB_CANCELLED)
  5    doctor: a registered model stops answering within the window, or already has
  130  aborted by Ctrl-C / SIGTERM (ABORT_ERR)
Errors are printed as "error [CODE]: message" on stderr (and, with --json, as a
{"type":"error","code":…,"message":…} line on stdout).`

/** An error of the CLI itself, with a code like the addon's. */
function cliError(code, message, extra = {}) {
  const e = new Error(message)
  e.code = code
  Object.assign(e, extra)
  return e
}

// ---------------------------------------------------------------------------------------------
// Subcommands: their flags and help

// The options of `train` (and the connection options of the other commands) come from the
// addon's own list, `fineTuneOptions()`, the one the core reads them by: a new option is a flag
// and a --config key without any edit here.
let specs
function optionSpecs() {
  if (!specs) specs = ft().fineTuneOptions()
  return specs
}
const kebab = (s) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
/** The flag of an option: `hyperparameters.nEpochs` is `--n-epochs`. */
const flagOf = (name) => kebab(name.split('.').pop())

function flagDef(spec) {
  const d = { type: spec.kind === 'boolean' || spec.name === 'evaluate' ? 'boolean' : 'string', help: spec.help + (spec.required ? ' (required)' : '') }
  if (spec.arg) d.arg = spec.arg
  if (spec.kind === 'keyValue') d.multiple = true
  return d
}

/** Flags for the named options (all of them without names). */
function optionFlags(names) {
  const out = {}
  for (const s of optionSpecs()) if (!names || names.includes(s.name)) out[flagOf(s.name)] = flagDef(s)
  return out
}

const CONNECTION = ['apiKey', 'baseUrl', 'organization', 'project', 'azureEndpoint', 'apiVersion']
const connectionFlags = () => optionFlags(CONNECTION)
const registryFlag = () => optionFlags(['registryPath'])
const JSON_FLAG = { json: { type: 'boolean', help: 'machine-readable output on stdout' } }
const HELP_FLAG = { help: { type: 'boolean', short: 'h', help: 'show this help' } }

const COMMANDS = {
  train: {
    summary: 'fine-tune a model and register it',
    usage: 'fine-tune train --agent-name NAME --model-key KEY --base-model MODEL --source FILE|URL [options]\n       fine-tune train --config FILE.json [options]',
    description: `Checks the data, uploads it, starts an OpenAI fine-tuning job, follows it and registers the
fine-tuned model under --model-key in the registry. In a terminal it shows a live progress line;
piped, it prints one line per event on stderr; with --json, one JSON object per event on stdout,
then {"type":"result",…}. The registered model is printed on stdout at the end.

Ctrl-C (or SIGTERM) stops waiting: the job keeps running and stays journaled, and running the
same command again resumes it (no new upload, no new job). With --cancel-on-abort the OpenAI job
is cancelled instead. A second Ctrl-C exits at once.

--config reads the same options from a JSON object with their camelCase names (agentName,
modelKey, baseModel, source, validation, suffix, registryPath, pollIntervalMs, nEpochs or
hyperparameters, metadata, integrations, …: every option below); relative paths in it are
relative to the file. Flags override it.`,
    flags: () => ({
      config: { type: 'string', arg: 'FILE', help: 'read the options from a JSON file (flags override)' },
      ...optionFlags(),
      ...JSON_FLAG,
      ...HELP_FLAG,
    }),
    positionals: 0,
    run: runTrain,
  },
  validate: {
    summary: 'check training data without uploading it',
    usage: 'fine-tune validate <source> [--base-model MODEL] [--method supervised|dpo] [--json]',
    description: `Checks a .jsonl file (or URL) the way train does before uploading: format, roles, token
counts against the base model's context, and an estimate of the billed tokens. Exits 2 when the
data has errors.`,
    flags: {
      'base-model': { type: 'string', arg: 'MODEL', help: 'check token limits and price for this base model' },
      method: { type: 'string', arg: 'METHOD', help: 'supervised (default) or dpo' },
      'n-epochs': { type: 'string', arg: 'N', help: "epochs for the cost estimate (default: OpenAI's rule)" },
      'price-per-million-tokens': { type: 'string', arg: 'USD', help: 'training price for the estimate (default: the built-in table)' },
      'max-download-bytes': { type: 'string', arg: 'N', help: 'size cap of URL sources (default 1 GiB)' },
      ...JSON_FLAG,
      ...HELP_FLAG,
    },
    positionals: 1,
    positionalNames: ['source'],
    run: runValidate,
  },
  status: {
    summary: 'show the runs in flight (interrupted, aborted or still running)',
    usage: 'fine-tune status [modelKey] [--registry-path FILE] [--api-key KEY] [--base-url URL] [--json]',
    description: `Lists the runs journaled beside the registry (<registry dir>/.runs/). With a modelKey whose
run has a job, also asks the API for the job's current status (connection flags or env; the
base URL defaults to the one the run used).`,
    flags: () => ({ ...registryFlag(), ...connectionFlags(), ...JSON_FLAG, ...HELP_FLAG }),
    positionals: [0, 1],
    positionalNames: ['modelKey'],
    run: runStatus,
  },
  list: {
    summary: 'list the registered models',
    usage: 'fine-tune list [--agent-name NAME] [--registry-path FILE] [--json]',
    description: 'Lists the models in the registry, in registry order.',
    flags: () => ({
      'agent-name': { type: 'string', arg: 'NAME', help: 'only the models of this agent' },
      ...registryFlag(),
      ...JSON_FLAG,
      ...HELP_FLAG,
    }),
    positionals: 0,
    run: runList,
  },
  show: {
    summary: 'show one registered model, its metrics and its loss curve',
    usage: 'fine-tune show <modelKey> [--registry-path FILE] [--json]',
    description: 'Shows the registry entry of modelKey, its training metrics and the path of its loss curve (SVG).',
    flags: () => ({ ...registryFlag(), ...JSON_FLAG, ...HELP_FLAG }),
    positionals: 1,
    positionalNames: ['modelKey'],
    run: runShow,
  },
  cancel: {
    summary: 'cancel the run in flight of a modelKey',
    usage: 'fine-tune cancel <modelKey> [--registry-path FILE] [--api-key KEY] [--base-url URL] [--json]',
    description: `Cancels the OpenAI job of an interrupted, aborted or timed-out run and clears its journal entry.
ERR_NOT_FOUND (exit 2) when no run of modelKey is in flight.`,
    flags: () => ({ ...registryFlag(), ...connectionFlags(), ...JSON_FLAG, ...HELP_FLAG }),
    positionals: 1,
    positionalNames: ['modelKey'],
    run: runCancel,
  },
  pause: {
    summary: 'pause the fine-tuning job of a modelKey (or job id)',
    usage: 'fine-tune pause <modelKey|jobId> [--registry-path FILE] [--api-key KEY] [--base-url URL] [--json]',
    description: 'Pauses the running job of a run in flight (or of a job id). A train command waiting for it keeps waiting.',
    flags: () => ({ ...registryFlag(), ...connectionFlags(), ...JSON_FLAG, ...HELP_FLAG }),
    positionals: 1,
    positionalNames: ['modelKey'],
    run: (a) => runPauseResume('pause', a),
  },
  resume: {
    summary: 'resume a paused fine-tuning job',
    usage: 'fine-tune resume <modelKey|jobId> [--registry-path FILE] [--api-key KEY] [--base-url URL] [--json]',
    description: 'Resumes the paused job of a run in flight (or of a job id).',
    flags: () => ({ ...registryFlag(), ...connectionFlags(), ...JSON_FLAG, ...HELP_FLAG }),
    positionals: 1,
    positionalNames: ['modelKey'],
    run: (a) => runPauseResume('resume', a),
  },
  doctor: {
    summary: 'check when every registered model stops answering (for CI)',
    usage: 'fine-tune doctor [--within-days N] [--registry-path FILE] [--api-key KEY] [--base-url URL] [--json]',
    description: `Re-reads from the API the shutdown date of every registered model's base model
(GET /models/{model}: shutdown_date; Azure: its models list) and prints, for each, whether and
when it stops answering: its base model's shutdown, a Developer-tier Azure deployment's 24-hour
life, or an Azure model that was never deployed. Exits 5 when any model is past its date or
within --within-days (default 90) of it, so that CI fails before agents do. Without an API key
the recorded dates (baseShutdownDate) are used.`,
    flags: () => ({
      'within-days': { type: 'string', arg: 'N', help: 'fail for models stopping within N days (default 90)' },
      ...registryFlag(),
      ...connectionFlags(),
      ...JSON_FLAG,
      ...HELP_FLAG,
    }),
    positionals: 0,
    run: runDoctor,
  },
  emulate: {
    summary: 'run the offline OpenAI-compatible fine-tuning emulator',
    usage: 'fine-tune emulate [--port N] [--api-key KEY] [--job-duration-ms N] [--state-dir DIR]',
    description: `Starts the emulator on 127.0.0.1 and prints the two lines to use it:
  OPENAI_BASE_URL=http://127.0.0.1:PORT/v1
  OPENAI_API_KEY=KEY
It runs until Ctrl-C or SIGTERM.`,
    flags: {
      port: { type: 'string', arg: 'N', help: 'port (default: a free one)' },
      'api-key': { type: 'string', arg: 'KEY', help: 'the key the emulator accepts (default sk-emulator)' },
      'job-duration-ms': { type: 'string', arg: 'N', help: 'how long a job takes (default 3000)' },
      organization: { type: 'string', arg: 'ID', help: 'the organization in model names (default org-emulator)' },
      'state-dir': { type: 'string', arg: 'DIR', help: 'keep files, jobs and models in DIR across restarts' },
      ...JSON_FLAG,
      ...HELP_FLAG,
    },
    positionals: 0,
    run: runEmulate,
  },
}

// eval, versions, promote, rollback, remove, import (in eval-commands.js beside this file; a
// copy of this file alone simply has no such commands).
function evalCommandsModule() {
  try {
    return require('./eval-commands')
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('eval-commands')) return () => ({})
    throw e
  }
}
Object.assign(
  COMMANDS,
  evalCommandsModule()({
    ft: (...a) => ft(...a), out: (l) => out(l), jsonLine: (o) => jsonLine(o), getState: () => state, EXIT_OK,
    registryFlag: () => registryFlag(), connectionFlags: () => connectionFlags(), JSON_FLAG, HELP_FLAG,
    registryPathOf: (v) => registryPathOf(v), connection: (v) => connection(v), dropUndefined: (o) => dropUndefined(o),
    cliError: (...a) => cliError(...a), toNumber: (...a) => toNumber(...a), fmtUsd: (x) => fmtUsd(x), fmtNum: (...a) => fmtNum(...a),
  }),
)

function topHelp() {
  const names = Object.keys(COMMANDS)
  const w = Math.max(...names.map((n) => n.length))
  return `fine-tune: fine-tune OpenAI models and register them for TaskForce agents

Usage: fine-tune <command> [options]
       fine-tune <command> --help
       fine-tune --version

Commands:
${names.map((n) => `  ${n.padEnd(w)}  ${COMMANDS[n].summary}`).join('\n')}

Connection options default to the env variables OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID
and OPENAI_PROJECT_ID; the registry to FINE_TUNED_MODELS_PATH, else ./fine-tuned/models.json.
The API key is never printed.

${EXIT_CODES_HELP}
`
}

function flagsOf(c) {
  return typeof c.flags === 'function' ? c.flags() : c.flags
}

function commandHelp(name) {
  const c = COMMANDS[name]
  const rows = Object.entries(flagsOf(c)).map(([f, d]) => {
    const left = `${d.short ? `-${d.short}, ` : '    '}--${f}${d.arg ? ` ${d.arg}` : ''}`
    return [left, d.help]
  })
  const w = Math.min(34, Math.max(...rows.map(([l]) => l.length)))
  const lines = rows.map(([l, h]) => (l.length > w ? `  ${l}\n  ${''.padEnd(w)}  ${h}` : `  ${l.padEnd(w)}  ${h}`))
  return `fine-tune ${name}: ${c.summary}

Usage: ${c.usage}

${c.description}

Options:
${lines.join('\n')}

${EXIT_CODES_HELP}
`
}

function usageLine(name) {
  if (name) return `Usage: ${COMMANDS[name].usage}\nRun "fine-tune ${name} --help" for details.`
  const names = Object.keys(COMMANDS)
  const w = Math.max(...names.map((n) => n.length))
  return `Usage: fine-tune <command> [options]\n\nCommands:\n${names.map((n) => `  ${n.padEnd(w)}  ${COMMANDS[n].summary}`).join('\n')}\n\nRun "fine-tune --help" or "fine-tune <command> --help" for details.`
}

// ---------------------------------------------------------------------------------------------
// Output helpers

const state = { json: false, secrets: [] }

function redact(s) {
  let out = String(s)
  for (const k of state.secrets) if (k && k.length >= 4) out = out.split(k).join('***')
  return out
}

function out(line) {
  process.stdout.write(redact(line) + '\n')
}
function err(line) {
  process.stderr.write(redact(line) + '\n')
}
function jsonLine(obj) {
  process.stdout.write(redact(JSON.stringify(obj)) + '\n')
}

function fmtBytes(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`
}

function fmtNum(x, digits = 4) {
  return typeof x === 'number' && isFinite(x) ? String(Number(x.toFixed(digits))) : String(x)
}

function fmtUsd(x) {
  const v = Number(x)
  return v >= 1 || v === 0 ? v.toFixed(2) : String(Number(v.toPrecision(2)))
}

function fmtDuration(ms) {
  const s = Math.floor(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`
}

function bar(fraction, width = 24) {
  const f = Math.max(0, Math.min(1, fraction))
  const full = Math.round(f * width)
  return '█'.repeat(full) + '░'.repeat(width - full)
}

/** Key/value rows, aligned. */
function table(rows, indent = '  ') {
  const w = Math.max(0, ...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`).join('\n')
}

function scalar(v) {
  if (v === null || v === undefined) return '-'
  if (typeof v === 'number') return fmtNum(v)
  if (typeof v === 'object') return JSON.stringify(v)
  return String(v)
}

/** Prints an error and returns its exit code. */
function reportError(e) {
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
  const names = specs ? specs.map((s) => s.name) : []
  const param = e && typeof e.param === 'string' ? e.param : undefined
  // The option at fault: `integrations[0].type` is the --integrations flag.
  const option = param && names.find((n) => param === n || param.startsWith(`${n}.`) || param.startsWith(`${n}[`))
  if ((code === 'ERR_MISSING_OPTION' || code === 'ERR_INVALID_OPTION') && option) {
    err(`  (the --${flagOf(option)} flag, or "${option}" in --config)`)
  } else if (code === 'ERR_MISSING_OPTION' && /missing required option/.test(message)) {
    const missing = names.filter((o) => new RegExp(`\\b${o}\\b`).test(message))
    if (missing.length) err(`  (pass ${missing.map((o) => `--${flagOf(o)}`).join(', ')})`)
  }
  if (code === 'ERR_USAGE' && e.usage) err(e.usage)
  if (state.json) {
    const obj = { type: 'error', code, message }
    for (const k of ['status', 'requestId', 'jobId', 'apiCode', 'apiType', 'param', 'report']) {
      if (e && e[k] !== undefined && e[k] !== null) obj[k] = e[k]
    }
    jsonLine(obj)
  }
  return exitCodeOf(code)
}

function issueLine(i) {
  if (!i || typeof i !== 'object') return String(i)
  const where = Array.isArray(i.lines) && i.lines.length ? ` (line${i.lines.length > 1 ? 's' : ''} ${i.lines.join(', ')}${i.count > i.lines.length ? ', …' : ''})` : ''
  const count = typeof i.count === 'number' ? ` ×${i.count}` : ''
  return `${i.kind ? `${i.kind}${count}: ` : ''}${i.message ?? ''}${where}`
}

// ---------------------------------------------------------------------------------------------
// Argument parsing

function parse(name, argv) {
  const c = COMMANDS[name]
  const options = {}
  for (const [f, d] of Object.entries(flagsOf(c))) {
    options[f] = { type: d.type }
    if (d.short) options[f].short = d.short
    if (d.multiple) options[f].multiple = true
  }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw cliError('ERR_USAGE', e.message.replace(/\. To specify a positional argument.*$/s, ''), { usage: usageLine(name) })
  }
  const { values, positionals } = parsed
  if (values.help) return { values, positionals, help: true }
  const [min, max] = Array.isArray(c.positionals) ? c.positionals : [c.positionals, c.positionals]
  if (positionals.length < min) {
    throw cliError('ERR_USAGE', `missing <${c.positionalNames[positionals.length]}>`, { usage: usageLine(name) })
  }
  if (positionals.length > max) {
    throw cliError('ERR_USAGE', `unexpected argument ${JSON.stringify(positionals[max])}`, { usage: usageLine(name) })
  }
  return { values, positionals }
}

const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/

function toNumber(flag, v, allowAuto) {
  if (typeof v === 'number') return v
  const s = String(v).trim()
  if (allowAuto && s === 'auto') return 'auto'
  if (NUMBER_RE.test(s)) return Number(s)
  throw cliError('ERR_INVALID_OPTION', `--${flag}: ${JSON.stringify(v)} is not a number${allowAuto ? ' or "auto"' : ''}`, { param: flag })
}

function parseMetadata(list) {
  const md = {}
  for (const item of list) {
    const eq = item.indexOf('=')
    if (eq <= 0) throw cliError('ERR_INVALID_OPTION', `--metadata ${JSON.stringify(item)}: expected KEY=VALUE`, { param: 'metadata' })
    md[item.slice(0, eq)] = item.slice(eq + 1)
  }
  return md
}

function isUrl(s) {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s)
}

const HYPER = 'hyperparameters.'

/** Reads --config: a JSON object of FineTuneOptions (camelCase; flat or nested hyperparameters). */
function readConfig(file) {
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    throw cliError('ERR_INVALID_OPTION', `--config ${file}: cannot read it (${e.code || e.message})`, { param: 'config' })
  }
  let cfg
  try {
    cfg = JSON.parse(text)
  } catch (e) {
    throw cliError('ERR_INVALID_OPTION', `--config ${file}: not valid JSON (${e.message})`, { param: 'config' })
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) {
    throw cliError('ERR_INVALID_OPTION', `--config ${file}: expected a JSON object of options`, { param: 'config' })
  }
  const names = optionSpecs().map((s) => s.name)
  const hyperKeys = names.filter((n) => n.startsWith(HYPER)).map((n) => n.slice(HYPER.length))
  const known = new Set([...names.filter((n) => !n.includes('.')), 'hyperparameters', ...hyperKeys])
  const unknown = Object.keys(cfg).filter((k) => !known.has(k))
  if (unknown.length) {
    throw cliError('ERR_INVALID_OPTION', `--config ${file}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}`, { param: 'config' })
  }
  const opts = { ...cfg }
  const hyper = {}
  if (cfg.hyperparameters !== undefined && cfg.hyperparameters !== null) {
    if (typeof cfg.hyperparameters !== 'object' || Array.isArray(cfg.hyperparameters)) {
      throw cliError('ERR_INVALID_OPTION', `--config ${file}: "hyperparameters" must be an object`, { param: 'hyperparameters' })
    }
    Object.assign(hyper, cfg.hyperparameters)
  }
  delete opts.hyperparameters
  for (const k of hyperKeys) {
    if (k in opts) {
      hyper[k] = opts[k]
      delete opts[k]
    }
  }
  // Relative paths are relative to the config file.
  const base = path.dirname(path.resolve(file))
  for (const k of ['source', 'validation', 'registryPath']) {
    if (typeof opts[k] === 'string' && opts[k] && !isUrl(opts[k]) && !path.isAbsolute(opts[k])) {
      opts[k] = path.resolve(base, opts[k])
    }
  }
  return { opts, hyper }
}

function parseJsonFlag(flag, v) {
  try {
    return JSON.parse(v)
  } catch (e) {
    throw cliError('ERR_INVALID_OPTION', `--${flag}: not valid JSON (${e.message})`, { param: flag })
  }
}

/** The options of `train`: --config, then each flag by its option's kind. */
function trainOptions(values) {
  let opts = {}
  let hyper = {}
  if (values.config !== undefined) ({ opts, hyper } = readConfig(values.config))
  for (const spec of optionSpecs()) {
    const flag = flagOf(spec.name)
    const v = values[flag]
    if (v === undefined) continue
    let value
    if (spec.kind === 'number') value = toNumber(flag, v, false)
    else if (spec.kind === 'numberOrAuto') value = toNumber(flag, v, true)
    else if (spec.name === 'evaluate') value = v === true || v === '' || v === 'true' ? true : parseJsonFlag(flag, v)
    else if (spec.name === 'promote') value = v === 'if-better' ? 'ifBetter' : v
    else if (spec.kind === 'json') value = parseJsonFlag(flag, v)
    else if (spec.kind === 'keyValue') {
      const base = opts[spec.name] && typeof opts[spec.name] === 'object' ? opts[spec.name] : {}
      value = { ...base, ...parseMetadata(v) }
    } else value = v
    if (spec.name.startsWith(HYPER)) hyper[spec.name.slice(HYPER.length)] = value
    else opts[spec.name] = value
  }
  if (Object.keys(hyper).length) opts.hyperparameters = hyper
  return opts
}

function registryPathOf(values) {
  const p = values['registry-path'] || process.env.FINE_TUNED_MODELS_PATH || path.join('fine-tuned', 'models.json')
  return path.resolve(p)
}

function curvePathOf(registryPath, modelKey) {
  const p = path.join(path.dirname(registryPath), `${modelKey}.svg`)
  return fs.existsSync(p) ? p : undefined
}

function connection(values) {
  const apiKey = values['api-key'] || process.env.OPENAI_API_KEY || undefined
  if (apiKey) state.secrets.push(apiKey)
  return {
    apiKey,
    baseUrl: values['base-url'] || process.env.OPENAI_BASE_URL || undefined,
    organization: values.organization || process.env.OPENAI_ORG_ID || undefined,
    project: values.project || process.env.OPENAI_PROJECT_ID || undefined,
  }
}

function dropUndefined(o) {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

// ---------------------------------------------------------------------------------------------
// Progress display

/** One plain line per event (piped stderr). */
function plainEventLine(e) {
  switch (e.type) {
    case 'dataChecked': {
      const r = e.report || {}
      const errs = Array.isArray(r.errors) ? r.errors.length : 0
      const warns = Array.isArray(r.warnings) ? r.warnings.length : 0
      const kinds = warns ? ` (${r.warnings.map((w) => (w && w.kind) || '?').join(', ')})` : ''
      return `data checked: ${e.file}: ${r.examples ?? '?'} examples, ${errs} error${errs === 1 ? '' : 's'}, ${warns} warning${warns === 1 ? '' : 's'}${kinds}`
    }
    case 'uploadStarted':
      return `uploading ${e.file} (${fmtBytes(e.bytes)})`
    case 'uploadProgress':
      return `uploading ${e.file}: ${fmtBytes(e.sent)} / ${fmtBytes(e.total)}${e.total ? ` (${Math.floor((100 * e.sent) / e.total)}%)` : ''}`
    case 'fileUploaded':
      return `uploaded ${e.file}: ${e.fileId} (${fmtBytes(e.bytes)})`
    case 'fileProcessed':
      return `processed ${e.file}: ${e.fileId}`
    case 'jobCreated':
      return `job ${e.resumed ? 'resumed' : 'created'}: ${e.jobId}`
    case 'status':
      return `status: ${e.status}`
    case 'jobEvent':
      if (typeof e.step === 'number') {
        const parts = [`step ${e.step}${typeof e.totalSteps === 'number' ? `/${e.totalSteps}` : ''}`]
        if (typeof e.trainLoss === 'number') parts.push(`train loss ${fmtNum(e.trainLoss)}`)
        if (typeof e.validLoss === 'number') parts.push(`valid loss ${fmtNum(e.validLoss)}`)
        if (typeof e.trainAccuracy === 'number') parts.push(`accuracy ${fmtNum(e.trainAccuracy)}`)
        return parts.join('  ')
      }
      return `${e.level && e.level !== 'info' ? e.level : 'event'}: ${e.message}`
    case 'registered':
      return `registered ${e.modelKey}: ${e.fineTunedModel} in ${e.registryPath}`
    case 'modelShutdownWarning':
      return `warning: the base model ${e.model} shuts down on ${e.shutdownDate} (${e.daysLeft} days): the fine-tuned model stops answering then`
    case 'deployment':
      return `azure deployment ${e.deployment}: ${e.provisioningState}`
    default: {
      const { type, ...rest } = e || {}
      return `${type || 'event'}: ${JSON.stringify(rest)}`
    }
  }
}

/** The live single-line display of a terminal. */
class LiveLine {
  constructor(stream) {
    this.stream = stream
    this.start = Date.now()
    this.phase = 'checking data'
    this.upload = null // { file, sent, total }
    this.job = null // { id, status, step, total, loss, message }
    this.shown = false
    this.timer = setInterval(() => this.draw(), 1000)
    this.timer.unref()
  }

  width() {
    return Math.max(20, (this.stream.columns || 80) - 1)
  }

  text() {
    const elapsed = fmtDuration(Date.now() - this.start)
    if (this.job) {
      const j = this.job
      const parts = [`${j.status || 'starting'}`]
      if (typeof j.step === 'number' && typeof j.total === 'number' && j.total > 0) {
        parts.push(`${bar(j.step / j.total)} step ${j.step}/${j.total}`)
      } else if (typeof j.step === 'number') {
        parts.push(`step ${j.step}`)
      }
      if (typeof j.loss === 'number') parts.push(`loss ${fmtNum(j.loss)}`)
      if (typeof j.validLoss === 'number') parts.push(`valid ${fmtNum(j.validLoss)}`)
      else if (j.message && typeof j.step !== 'number') parts.push(j.message)
      return `${parts.join('  ')}  ${elapsed}`
    }
    if (this.upload) {
      const u = this.upload
      const frac = u.total ? u.sent / u.total : 0
      return `uploading ${u.file} ${bar(frac)} ${fmtBytes(u.sent)} / ${fmtBytes(u.total)}${u.done ? ` ${u.done}` : ''}  ${elapsed}`
    }
    return `${this.phase}…  ${elapsed}`
  }

  draw() {
    let t = this.text()
    const w = this.width()
    if ([...t].length > w) t = [...t].slice(0, w - 1).join('') + '…'
    this.stream.write(`\r${redact(t)}\x1b[K`)
    this.shown = true
  }

  clear() {
    if (this.shown) this.stream.write('\r\x1b[K')
    this.shown = false
  }

  /** A permanent line above the live one. */
  log(line) {
    this.clear()
    this.stream.write(redact(line) + '\n')
    this.draw()
  }

  stop() {
    clearInterval(this.timer)
    this.clear()
  }

  event(e) {
    switch (e.type) {
      case 'dataChecked':
        this.log(`✓ ${plainEventLine(e)}`)
        for (const w of (e.report && e.report.warnings) || []) this.log(`  warning: ${issueLine(w)}`)
        break
      case 'uploadStarted':
        this.upload = { file: e.file, sent: 0, total: e.bytes }
        this.draw()
        break
      case 'uploadProgress':
        this.upload = { file: e.file, sent: e.sent, total: e.total }
        this.draw()
        break
      case 'fileUploaded':
        this.upload = { file: e.file, sent: e.bytes, total: e.bytes, done: `(processing ${e.fileId})` }
        this.log(`✓ ${plainEventLine(e)}`)
        break
      case 'fileProcessed':
        if (this.upload) this.upload.done = '(processed)'
        this.draw()
        break
      case 'jobCreated':
        this.job = { id: e.jobId, status: 'created' }
        this.log(`✓ ${plainEventLine(e)}`)
        break
      case 'status':
        if (!this.job) this.job = { id: e.jobId }
        this.job.status = e.status
        this.log(`  status: ${e.status}`)
        break
      case 'jobEvent':
        if (!this.job) this.job = { id: e.jobId }
        if (typeof e.step === 'number') {
          this.job.step = e.step
          if (typeof e.totalSteps === 'number') this.job.total = e.totalSteps
          if (typeof e.trainLoss === 'number') this.job.loss = e.trainLoss
          if (typeof e.validLoss === 'number') this.job.validLoss = e.validLoss
          this.draw()
        } else if (e.level && e.level !== 'info') {
          this.log(`  ${e.level}: ${e.message}`)
        } else {
          this.job.message = e.message
          this.draw()
        }
        break
      case 'registered':
      case 'deployment':
        this.log(`✓ ${plainEventLine(e)}`)
        break
      case 'modelShutdownWarning':
        this.log(`  ${plainEventLine(e)}`)
        break
      default:
        this.draw()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

async function runTrain({ values }) {
  const opts = trainOptions(values)
  if (typeof opts.apiKey === 'string') state.secrets.push(opts.apiKey)
  if (process.env.OPENAI_API_KEY) state.secrets.push(process.env.OPENAI_API_KEY)

  const mode = state.json ? 'json' : process.stderr.isTTY ? 'tty' : 'plain'
  const live = mode === 'tty' ? new LiveLine(process.stderr) : null

  const onProgress = (e) => {
    try {
      if (mode === 'json') jsonLine(e)
      else if (live) live.event(e)
      else err(plainEventLine(e))
    } catch (_) {
      // A display problem must never break the run.
    }
  }

  const controller = new AbortController()
  let signals = 0
  const onSignal = (sig) => {
    signals++
    if (signals > 1) {
      if (live) live.stop()
      err(`\n${sig} again: exiting now.`)
      process.exit(EXIT_ABORTED)
    }
    if (live) live.stop()
    err(
      opts.cancelOnAbort
        ? `\n${sig}: aborting and cancelling the OpenAI job… (press Ctrl-C again to exit at once)`
        : `\n${sig}: aborting. The job keeps running and stays journaled: run the same "fine-tune train" command again to resume it, or "fine-tune cancel ${opts.modelKey ?? '<modelKey>'}" to cancel it.`,
    )
    controller.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let model
  try {
    // Every progress event has been delivered when the promise settles.
    model = await ft().trainAndRegisterFineTunedModel({ ...opts, signal: controller.signal, onProgress })
  } finally {
    if (live) live.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  const entry = safeEntry(model.modelKey, model.registryPath)
  const curvePath = curvePathOf(model.registryPath, model.modelKey)
  const metrics = entry && entry.fineTune && entry.fineTune.metrics
  if (mode === 'json') {
    jsonLine(dropUndefined({ type: 'result', ...model, metrics, curvePath }))
  } else {
    out(`Registered ${model.modelKey}`)
    const rows = [
      ['modelKey', model.modelKey],
      ['fineTunedModel', model.fineTunedModel],
      ['jobId', model.jobId],
      ['registry', model.registryPath],
    ]
    if (curvePath) rows.push(['curve', curvePath])
    if (model.trainedTokens !== undefined) rows.push(['trainedTokens', String(model.trainedTokens)])
    if (model.promoted === false) rows.push(['promoted', `no: ${model.modelKey} still resolves to ${model.previousModel}`])
    const ev = model.evaluation
    if (ev) {
      const g = (ev.graders || []).find((x) => x.name === ev.primaryGrader) || {}
      rows.push(['evaluation', `${ev.better ? 'better' : 'not better'} than ${ev.baseline}: ${ev.primaryGrader} ${fmtNum(g.candidateMean, 3)} vs ${fmtNum(g.baselineMean, 3)}, 95% CI [${fmtNum(g.ciLow, 3)}, ${fmtNum(g.ciHigh, 3)}]`])
    }
    if (model.evaluationError) rows.push(['evaluation', `not run: ${model.evaluationError}`])
    out(table(rows))
    if (metrics && typeof metrics === 'object') {
      out('  metrics:')
      out(table(Object.entries(metrics).map(([k, v]) => [k, scalar(v)]), '    '))
    }
  }
  return EXIT_OK
}

function safeEntry(modelKey, registryPath) {
  try {
    return ft().getRegisteredModel(modelKey, { registryPath })
  } catch (_) {
    return null
  }
}

async function runValidate({ values, positionals }) {
  const { validateTrainingData } = ft()
  if (typeof validateTrainingData !== 'function') {
    throw cliError(
      'ERR_NOT_SUPPORTED',
      'this build of taskforce-fine-tune does not export validateTrainingData, so "fine-tune validate" is not available (train still checks the data before uploading anything)',
    )
  }
  const [source] = positionals
  const num = (flag) => (values[flag] !== undefined ? toNumber(flag, values[flag], false) : undefined)
  const opts = dropUndefined({
    baseModel: values['base-model'],
    method: values.method,
    nEpochs: num('n-epochs'),
    pricePerMillionTokens: num('price-per-million-tokens'),
    maxDownloadBytes: num('max-download-bytes'),
  })
  let report
  try {
    report = await validateTrainingData(source, opts)
  } catch (e) {
    if (e && e.report && !state.json) printReport(source, e.report)
    throw e
  }
  if (state.json) jsonLine(report)
  else printReport(source, report)
  if (report && report.valid === false) {
    const n = Array.isArray(report.errors) ? report.errors.length : 0
    throw cliError('ERR_INVALID_TRAINING_DATA', `${source}: the data has ${n} kind${n === 1 ? '' : 's'} of error (see the report)`)
  }
  return EXIT_OK
}

function printReport(source, r) {
  if (!r || typeof r !== 'object') {
    out(String(r))
    return
  }
  out(`${source}: ${r.valid === false ? 'INVALID' : 'valid'}`)
  const rows = []
  if (r.format) rows.push(['format', `${r.format}${r.method ? ` (${r.method})` : ''}`])
  if (r.baseModel || r.modelFamily) rows.push(['base model', `${r.baseModel ?? '-'}${r.modelFamily ? ` (${r.modelFamily})` : ''}`])
  if (r.examples !== undefined) rows.push(['examples', String(r.examples)])
  if (r.lines !== undefined) rows.push(['lines', String(r.lines)])
  if (r.bytes !== undefined) rows.push(['size', fmtBytes(r.bytes)])
  const t = r.tokens
  if (t && typeof t === 'object') {
    rows.push(['tokens / example', `min ${t.min}, median ${fmtNum(t.median, 1)}, p90 ${fmtNum(t.p90, 1)}, max ${t.max}${r.contextLimit ? ` (limit ${r.contextLimit})` : ''}`])
    rows.push(['tokens total', `${t.total}${t.assistantTotal !== undefined ? ` (assistant ${t.assistantTotal})` : ''}`])
  }
  if (r.epochs !== undefined) rows.push(['epochs', `${r.epochs}${r.defaultEpochs !== undefined && r.defaultEpochs !== r.epochs ? ` (default ${r.defaultEpochs})` : ''}`])
  if (r.estimatedBilledTokens !== undefined) rows.push(['billed tokens (est.)', String(r.estimatedBilledTokens)])
  if (r.estimatedCostUsd !== undefined && r.estimatedCostUsd !== null) {
    rows.push(['cost (est.)', `$${fmtUsd(r.estimatedCostUsd)}${r.priceDate ? ` (prices of ${r.priceDate})` : ''}`])
  } else if (r.priceNote) {
    rows.push(['cost (est.)', r.priceNote])
  }
  if (rows.length) out(table(rows))
  const errors = Array.isArray(r.errors) ? r.errors : []
  const warnings = Array.isArray(r.warnings) ? r.warnings : []
  if (errors.length) {
    out('errors:')
    for (const i of errors) out(`  - ${issueLine(i)}`)
  }
  if (warnings.length) {
    out('warnings:')
    for (const i of warnings) out(`  - ${issueLine(i)}`)
  }
}

function readRuns(registryPath) {
  return ft().listInFlightRuns({ registryPath })
}

async function runStatus({ values, positionals }) {
  const registryPath = registryPathOf(values)
  const [modelKey] = positionals
  let runs = readRuns(registryPath)
  if (modelKey !== undefined) runs = runs.filter((r) => r.modelKey === modelKey)

  if (modelKey !== undefined && runs.length === 0) {
    const entry = safeEntry(modelKey, registryPath)
    if (entry) {
      if (state.json) jsonLine([])
      else out(`${modelKey}: no run in flight; registered as ${entry.model && entry.model.name} in ${registryPath}`)
      return EXIT_OK
    }
    throw cliError('ERR_NOT_FOUND', `no run for modelKey ${JSON.stringify(modelKey)} is in flight, and it is not registered in ${registryPath}`)
  }

  // With a modelKey, ask the API about its job.
  let apiError
  if (modelKey !== undefined && runs[0] && runs[0].jobId) {
    const conn = connection(values)
    try {
      runs[0] = { ...runs[0], job: await ft().getFineTuneJob(modelKey, dropUndefined({ registryPath, ...conn })) }
    } catch (e) {
      if (e && e.code === 'ERR_MISSING_API_KEY' && !state.json) {
        err('(no API key: set OPENAI_API_KEY or pass --api-key to see the job\'s current status)')
      } else apiError = e
    }
  }

  if (state.json) {
    jsonLine(runs)
  } else if (runs.length === 0) {
    out(`no runs in flight (${path.join(path.dirname(registryPath), '.runs')})`)
  } else {
    for (const r of runs) {
      out(r.modelKey)
      const rows = [
        ['runId', r.runId ?? '-'],
        ['agentName', r.agentName ?? '-'],
        ['baseModel', r.baseModel ?? '-'],
        ['jobId', r.jobId ?? (r.jobRequested ? '(requested, answer not received)' : '(no job yet)')],
        ['trainingFileId', r.trainingFileId ?? '-'],
      ]
      if (r.validationFileId) rows.push(['validationFileId', r.validationFileId])
      rows.push(['startedAt', r.startedAt ?? '-'])
      if (r.baseUrl) rows.push(['baseUrl', r.baseUrl])
      if (r.job) {
        rows.push(['job status', r.job.status ?? '-'])
        if (r.job.fineTunedModel) rows.push(['fineTunedModel', r.job.fineTunedModel])
        if (r.job.trainedTokens) rows.push(['trainedTokens', String(r.job.trainedTokens)])
        if (r.job.estimatedFinish) rows.push(['estimated finish', new Date(r.job.estimatedFinish * 1000).toISOString()])
        if (r.job.error && r.job.error.message) rows.push(['job error', `${r.job.error.code ? `${r.job.error.code}: ` : ''}${r.job.error.message}`])
      }
      out(table(rows))
    }
    out(`Resume a run with the same "fine-tune train" options, or cancel it with "fine-tune cancel <modelKey>".`)
  }
  if (apiError) throw apiError
  return EXIT_OK
}

async function runList({ values }) {
  const registryPath = registryPathOf(values)
  const entries = ft().listRegisteredModels(dropUndefined({ agentName: values['agent-name'], registryPath }))
  if (state.json) {
    jsonLine(entries)
    return EXIT_OK
  }
  if (entries.length === 0) {
    out(`no models registered${values['agent-name'] ? ` for agent ${values['agent-name']}` : ''} in ${registryPath}`)
    return EXIT_OK
  }
  const rows = entries.map((e) => {
    const f = e.fineTune || {}
    return [e.modelKey, (e.model && e.model.name) || '-', f.agentName || '-', f.finishedAt || '-', stopsLine(e.stopsAnswering)]
  })
  const head = ['MODEL KEY', 'MODEL', 'AGENT', 'FINISHED', 'STOPS ANSWERING']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (r) => r.map((c, i) => (i === r.length - 1 ? String(c) : String(c).padEnd(widths[i]))).join('  ')
  out(line(head))
  for (const r of rows) out(line(r))
  return EXIT_OK
}

/** Whether and when a model stops answering, in a few words. */
function stopsLine(s) {
  if (!s) return '-'
  switch (s.status) {
    case 'shutDown':
      return `STOPPED ${s.at} (${s.reason})`
    case 'soon':
      return `${s.at} (in ${s.daysLeft} days: ${s.reason})`
    case 'scheduled':
      return `${s.at} (in ${s.daysLeft} days)`
    case 'undeployed':
      return 'not deployed: answers nothing'
    default:
      return 'no date announced'
  }
}

async function runDoctor({ values }) {
  const registryPath = registryPathOf(values)
  const conn = connection(values)
  const withinDays = values['within-days'] !== undefined ? toNumber('within-days', values['within-days']) : undefined
  const checks = await ft().checkRegisteredModels(dropUndefined({ registryPath, ...conn, withinDays }))
  const failing = checks.filter((c) => c.failing)
  if (state.json) {
    jsonLine({ type: 'doctor', registryPath, ok: failing.length === 0, models: checks })
  } else if (checks.length === 0) {
    out(`no models registered in ${registryPath}`)
  } else {
    for (const c of checks) {
      out(`${c.failing ? '✗' : '✓'} ${c.modelKey}: ${c.model} (base ${c.baseModel}): ${stopsLine(c.stopsAnswering)}${c.refreshed ? '' : ' [recorded date; not re-read from the API]'}`)
      for (const n of c.notes) out(`    note: ${n}`)
    }
    out(failing.length ? `${failing.length} model(s) stop answering within ${withinDays ?? 90} days or already have` : 'all models keep answering beyond the window')
  }
  return failing.length ? EXIT_DOCTOR : EXIT_OK
}

async function runPauseResume(which, { values, positionals }) {
  const registryPath = registryPathOf(values)
  const [modelKey] = positionals
  const conn = connection(values)
  const fn = which === 'pause' ? ft().pauseFineTune : ft().resumeFineTune
  const job = await fn(modelKey, dropUndefined({ registryPath, ...conn }))
  if (state.json) jsonLine({ type: which === 'pause' ? 'paused' : 'resumed', modelKey, job })
  else out(`${which === 'pause' ? 'paused' : 'resumed'} ${modelKey}: job ${job.id} is ${job.status}`)
  return EXIT_OK
}

async function runShow({ values, positionals }) {
  const registryPath = registryPathOf(values)
  const [modelKey] = positionals
  const entry = ft().getRegisteredModel(modelKey, { registryPath })
  if (!entry) throw cliError('ERR_NOT_FOUND', `modelKey ${JSON.stringify(modelKey)} is not registered in ${registryPath}`)
  const curvePath = curvePathOf(registryPath, modelKey)
  if (state.json) {
    jsonLine(dropUndefined({ ...entry, registryPath, curvePath }))
    return EXIT_OK
  }
  out(entry.modelKey)
  const m = entry.model || {}
  out(table([
    ['model', m.name ?? '-'],
    ['provider', m.provider ?? '-'],
    ['supportsTools', String(m.supportsTools)],
    ['maxContextTokens', String(m.maxContextTokens)],
    ['registry', registryPath],
  ]))
  const f = entry.fineTune
  if (f && typeof f === 'object') {
    const { metrics, ...rest } = f
    out('fine-tune:')
    out(table(Object.entries(rest).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, scalar(v)])))
    if (metrics && typeof metrics === 'object') {
      out('metrics:')
      out(table(Object.entries(metrics).map(([k, v]) => [k, scalar(v)])))
    }
  }
  out(`curve: ${curvePath ?? '(none)'}`)
  return EXIT_OK
}

async function runCancel({ values, positionals }) {
  const registryPath = registryPathOf(values)
  const [modelKey] = positionals
  const conn = connection(values)
  const jobId = await ft().cancelFineTune(modelKey, dropUndefined({ registryPath, ...conn }))
  if (state.json) jsonLine({ type: 'cancelled', modelKey, jobId: jobId ?? null })
  else out(jobId ? `cancelled ${modelKey}: job ${jobId}` : `cancelled ${modelKey} (no job had been created)`)
  return EXIT_OK
}

async function runEmulate({ values }) {
  const opts = dropUndefined({
    port: values.port !== undefined ? toNumber('port', values.port) : undefined,
    apiKey: values['api-key'],
    jobDurationMs: values['job-duration-ms'] !== undefined ? toNumber('job-duration-ms', values['job-duration-ms']) : undefined,
    organization: values.organization,
    stateDir: values['state-dir'],
  })
  // Rejects with ERR_INVALID_OPTION (exit 2) for a bad option, a port in use included.
  const emu = await ft().startEmulator(opts)
  // The emulator's own key is printed by design: it is what clients must send.
  if (state.json) process.stdout.write(JSON.stringify({ type: 'emulator', url: emu.url, apiKey: emu.apiKey }) + '\n')
  else process.stdout.write(`OPENAI_BASE_URL=${emu.url}\nOPENAI_API_KEY=${emu.apiKey}\n`)
  process.stderr.write('emulator running; press Ctrl-C to stop\n')
  const keepAlive = setInterval(() => {}, 1 << 30)
  const sig = await new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  clearInterval(keepAlive)
  await emu.close()
  process.stderr.write(`${sig}: emulator stopped\n`)
  return EXIT_OK
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(argv) {
  state.json = argv.includes('--json')
  const [name, ...rest] = argv
  if (name === undefined) {
    err(topHelp())
    return EXIT_BAD_INPUT
  }
  if (name === '--version' || name === '-V') {
    out(require('../package.json').version)
    return EXIT_OK
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] && Object.hasOwn(COMMANDS, rest[0])) out(commandHelp(rest[0]))
    else out(topHelp())
    return EXIT_OK
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    return reportError(cliError('ERR_USAGE', name.startsWith('-') ? `unknown option ${JSON.stringify(name)} (a command comes first)` : `unknown command ${JSON.stringify(name)}`, { usage: usageLine() }))
  }
  try {
    const args = parse(name, rest)
    if (args.help) {
      out(commandHelp(name))
      return EXIT_OK
    }
    return await COMMANDS[name].run(args)
  } catch (e) {
    return reportError(e)
  }
}

process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0)
  throw e
})

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
    // Exit even if a native handle lingers (streams to pipes and files are synchronous on Linux).
    setTimeout(() => process.exit(code), 100).unref()
  },
  (e) => {
    process.stderr.write(`error [ERR_UNEXPECTED]: ${redact(e && e.stack ? e.stack : String(e))}\n`)
    process.exit(EXIT_UNEXPECTED)
  },
)
