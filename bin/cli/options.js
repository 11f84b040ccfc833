'use strict'
// Flags and options: the flags of `train` (and the connection flags of the other commands) are
// made from the addon's own list of options, `fineTuneOptions()`; argument parsing with a
// suggestion for a mistyped flag; `--config`; and the options object passed to each call.

const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { ftIfLoadable } = require('./addon')
const { cliError } = require('./errors')
const { addSecret } = require('./render')

// ---------------------------------------------------------------------------------------------
// The option table

let specs
/**
 * The addon's `fineTuneOptions()`. When the addon cannot load (a help text, or a usage error
 * before the command needs the addon), the copy beside this file, `options-table.json`, which a
 * test keeps equal to the addon's.
 */
function optionSpecs() {
  if (!specs) {
    const lib = ftIfLoadable()
    specs = lib && typeof lib.fineTuneOptions === 'function' ? lib.fineTuneOptions() : require('./options-table.json')
  }
  return specs
}

const kebab = (s) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
/** The flag of an option: `hyperparameters.nEpochs` is `--n-epochs`. */
const flagOf = (name) => kebab(name.split('.').pop())

/**
 * Options whose flag may stand alone or take a value: `--evaluate`, `--evaluate '{…}'` or
 * `--evaluate=true`. The value, when there is one, must be `true`, `false` or a JSON object.
 */
const OPTIONAL_VALUE = new Set(['evaluate'])

function flagDef(spec) {
  const d = { type: spec.kind === 'boolean' ? 'boolean' : 'string', help: spec.help + (spec.required ? ' (required)' : '') }
  if (spec.arg) d.arg = spec.arg
  if (OPTIONAL_VALUE.has(spec.name)) {
    d.optionalValue = true
    d.arg = `[${spec.arg}]`
  }
  if (spec.kind === 'keyValue') d.multiple = true
  return d
}

/** Flags for the named options (all of them without names). */
function optionFlags(names) {
  const out = {}
  for (const s of optionSpecs()) if (!names || names.includes(s.name)) out[flagOf(s.name)] = flagDef(s)
  return out
}

/** The connection options every call that talks to the API takes; the core resolves their defaults. */
const CONNECTION = ['apiKey', 'baseUrl', 'organization', 'project', 'azureEndpoint', 'apiVersion', 'maxRetries']
const connectionFlags = () => optionFlags(CONNECTION)
const registryFlag = () => optionFlags(['registryPath'])
const JSON_FLAG = { json: { type: 'boolean', help: 'machine-readable output: one JSON object per line on stdout' } }
const HELP_FLAG = { help: { type: 'boolean', short: 'h', help: 'show this help' } }

// ---------------------------------------------------------------------------------------------
// Parsing

/** Edit distance (Levenshtein) of two short strings. */
function distance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]
}

/** The known name nearest to `name` (a prefix, or a few edits away), if one is near enough. */
function nearest(name, known) {
  let best
  let bestScore = Infinity
  for (const k of known) {
    const score = k.startsWith(name) || name.startsWith(k) ? Math.abs(k.length - name.length) * 0.5 : distance(name, k)
    if (score < bestScore) [best, bestScore] = [k, score]
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

/** `--evaluate` alone is `--evaluate=true`; followed by `true`, `false` or `{…}`, takes it. */
function joinOptionalValues(argv, flags) {
  const out = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      out.push(...argv.slice(i))
      break
    }
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : null
    if (name && flags[name] && flags[name].optionalValue) {
      const next = argv[i + 1]
      if (next !== undefined && (/^(true|false)$/.test(next) || /^\s*[{[]/.test(next))) {
        out.push(`--${name}=${next}`)
        i++
      } else out.push(`--${name}=true`)
    } else out.push(a)
  }
  return out
}

/** Refuses a flag the command does not have, suggesting the nearest one. */
function checkFlagNames(argv, flags) {
  const shorts = new Set(Object.values(flags).map((d) => d.short).filter(Boolean))
  for (const a of argv) {
    if (a === '--') break
    if (a.startsWith('--')) {
      const name = a.slice(2).split('=')[0]
      if (!Object.hasOwn(flags, name)) {
        const near = nearest(name, Object.keys(flags))
        throw cliError('ERR_USAGE', `unknown option '--${name}'${near ? ` (did you mean --${near}?)` : ''}`)
      }
    } else if (/^-[^-\d]/.test(a) && !shorts.has(a[1])) {
      throw cliError('ERR_USAGE', `unknown option '${a.slice(0, 2)}'`)
    }
  }
}

/**
 * Parses a command's arguments: `{ values, positionals, help }`. Usage errors are `ERR_USAGE`
 * (main prints the command's usage under them).
 */
function parse(command, argv) {
  const flags = command.flags()
  const args = joinOptionalValues(argv, flags)
  checkFlagNames(args, flags)
  const options = {}
  for (const [f, d] of Object.entries(flags)) {
    options[f] = { type: d.type }
    if (d.short) options[f].short = d.short
    if (d.multiple) options[f].multiple = true
  }
  let parsed
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw cliError('ERR_USAGE', e.message.replace(/\. To specify a positional argument.*$/s, ''))
  }
  const { values, positionals } = parsed
  if (values.help) return { values, positionals, help: true }
  const [min, max] = Array.isArray(command.positionals) ? command.positionals : [command.positionals, command.positionals]
  if (positionals.length < min) throw cliError('ERR_USAGE', `missing <${command.positionalNames[positionals.length]}>`)
  if (positionals.length > max) throw cliError('ERR_USAGE', `unexpected argument ${JSON.stringify(positionals[max])}`)
  addSecret(values['api-key'])
  return { values, positionals }
}

// ---------------------------------------------------------------------------------------------
// Values

const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/

function toNumber(flag, v, allowAuto = false) {
  if (typeof v === 'number') return v
  const s = String(v).trim()
  if (allowAuto && s === 'auto') return 'auto'
  if (NUMBER_RE.test(s)) return Number(s)
  throw cliError('ERR_INVALID_OPTION', `--${flag}: ${JSON.stringify(v)} is not a number${allowAuto ? ' or "auto"' : ''}`, { param: flag })
}

/** A flag's number when given. */
function numberFlag(values, flag) {
  return values[flag] !== undefined ? toNumber(flag, values[flag]) : undefined
}

/** `KEY=VALUE` items (a repeatable flag) as an object. */
function keyValues(flag, list) {
  const md = {}
  for (const item of list) {
    const eq = item.indexOf('=')
    if (eq <= 0) throw cliError('ERR_INVALID_OPTION', `--${flag} ${JSON.stringify(item)}: expected KEY=VALUE`, { param: flag })
    md[item.slice(0, eq)] = item.slice(eq + 1)
  }
  return md
}

function parseJsonFlag(flag, v) {
  try {
    return JSON.parse(v)
  } catch (e) {
    throw cliError('ERR_INVALID_OPTION', `--${flag}: not valid JSON (${e.message})`, { param: flag })
  }
}

/** `--evaluate`: `true`, `false`, or a JSON object of evaluation settings. */
function evaluateValue(flag, v) {
  if (v === true || v === 'true' || v === '') return true
  if (v === 'false') return false
  const value = parseJsonFlag(flag, v)
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw cliError('ERR_INVALID_OPTION', `--${flag}: expected true, false or a JSON object of evaluation settings, got ${v}`, { param: flag })
  }
  return value
}

function isUrl(s) {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s)
}

const without = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

/**
 * The connection options given as flags, by their option names, and nothing else: the core
 * falls back to the environment (OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT…) for the rest.
 */
function connectionOptions(values) {
  const o = {}
  for (const name of CONNECTION) {
    const flag = flagOf(name)
    if (values[flag] === undefined) continue
    o[name] = name === 'maxRetries' ? toNumber(flag, values[flag]) : values[flag]
  }
  return o
}

/**
 * The registry the command reads, as an absolute path: `--registry-path`, else
 * FINE_TUNED_MODELS_PATH, else ./fine-tuned/models.json. The CLI resolves it (rather than
 * leaving it to the core) because it prints it.
 */
function registryPathOf(values) {
  const env = (process.env.FINE_TUNED_MODELS_PATH || '').trim()
  return path.resolve(values['registry-path'] || env || path.join('fine-tuned', 'models.json'))
}

// ---------------------------------------------------------------------------------------------
// train's options: --config, then the flags

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
  const known = [...names.filter((n) => !n.includes('.')), 'hyperparameters', ...hyperKeys]
  const unknown = Object.keys(cfg).filter((k) => !known.includes(k))
  if (unknown.length) {
    const hints = unknown.map((k) => {
      const near = nearest(k, known)
      return `${JSON.stringify(k)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`
    })
    throw cliError('ERR_INVALID_OPTION', `--config ${file}: unknown option${unknown.length > 1 ? 's' : ''} ${hints.join(', ')}`, { param: 'config' })
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

/** One flag's value as its option's kind reads it. */
function optionValue(spec, flag, v, previous) {
  if (spec.kind === 'number') return toNumber(flag, v)
  if (spec.kind === 'numberOrAuto') return toNumber(flag, v, true)
  if (OPTIONAL_VALUE.has(spec.name)) return evaluateValue(flag, v)
  if (spec.name === 'promote' && v === 'if-better') return 'ifBetter'
  if (spec.kind === 'json') return parseJsonFlag(flag, v)
  if (spec.kind === 'keyValue') return { ...(previous && typeof previous === 'object' ? previous : {}), ...keyValues(flag, v) }
  return v
}

/** The options of `train`: --config, then each flag by its option's kind. */
function trainOptions(values) {
  let opts = {}
  let hyper = {}
  if (values.config !== undefined) ({ opts, hyper } = readConfig(values.config))
  for (const spec of optionSpecs()) {
    const flag = flagOf(spec.name)
    if (values[flag] === undefined) continue
    if (spec.name.startsWith(HYPER)) hyper[spec.name.slice(HYPER.length)] = optionValue(spec, flag, values[flag])
    else opts[spec.name] = optionValue(spec, flag, values[flag], opts[spec.name])
  }
  if (Object.keys(hyper).length) opts.hyperparameters = hyper
  addSecret(opts.apiKey)
  return opts
}

module.exports = {
  optionSpecs,
  flagOf,
  optionFlags,
  connectionFlags,
  registryFlag,
  JSON_FLAG,
  HELP_FLAG,
  nearest,
  parse,
  toNumber,
  numberFlag,
  keyValues,
  without,
  connectionOptions,
  registryPathOf,
  trainOptions,
}
