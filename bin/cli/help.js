'use strict'
// Help texts, at most 100 columns wide. They need no addon: flags come from the addon's option
// table when it loads, else from the copy beside options.js.

const COMMANDS = require('./commands')
const { EXIT_CODES } = require('./errors')
const { wrap } = require('./render')

const WIDTH = 100

/** `prefix` then `text` wrapped to WIDTH, continuation lines aligned under the text. */
function hanging(prefix, text) {
  const pad = ' '.repeat(prefix.length)
  return wrap(text, WIDTH - prefix.length, 0)
    .split('\n')
    .map((l, i) => (i === 0 ? prefix : pad) + l)
    .join('\n')
}

function exitCodesHelp() {
  const rows = EXIT_CODES.map(({ exit, meaning, codes }) =>
    hanging(`  ${String(exit).padEnd(5)}`, codes.length ? `${meaning}: ${codes.join(', ')}` : meaning),
  )
  return `Exit codes:
${rows.join('\n')}
${wrap('Errors are printed as "error [CODE]: message" on stderr (and, with --json, as a {"type":"error","code":…,"message":…} line on stdout).', WIDTH, 0)}`
}

function commandList() {
  const names = Object.keys(COMMANDS)
  const w = Math.max(...names.map((n) => n.length))
  return names.map((n) => hanging(`  ${n.padEnd(w)}  `, COMMANDS[n].summary)).join('\n')
}

function topHelp() {
  return `fine-tune: fine-tune OpenAI models and register them for TaskForce agents

Usage: fine-tune <command> [options]
       fine-tune <command> --help
       fine-tune --version

Commands:
${commandList()}

${wrap(`Connection options (--api-key, --base-url, --organization, --project, --azure-endpoint, --api-version) default to the env variables OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID, AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY and OPENAI_API_VERSION; the registry to FINE_TUNED_MODELS_PATH, else ./fine-tuned/models.json. The API key is never printed.`, WIDTH, 0)}

${exitCodesHelp()}
`
}

function usageLines(c) {
  return c.usage.map((u, i) => hanging(i === 0 ? 'Usage: ' : '       ', u)).join('\n')
}

function optionRows(flags) {
  const rows = Object.entries(flags).map(([f, d]) => [`${d.short ? `-${d.short}, ` : '    '}--${f}${d.arg ? ` ${d.arg}` : ''}`, d.help])
  const w = Math.min(30, Math.max(...rows.map(([l]) => l.length)))
  return rows
    .map(([l, h]) => (l.length > w ? `  ${l}\n${hanging(' '.repeat(w + 4), h)}` : hanging(`  ${l.padEnd(w)}  `, h)))
    .join('\n')
}

function commandHelp(name) {
  const c = COMMANDS[name]
  return `fine-tune ${name}: ${c.summary}

${usageLines(c)}

${wrap(c.description, WIDTH)}

Options:
${optionRows(c.flags())}

${exitCodesHelp()}
`
}

/** The usage printed under a usage error. */
function usageLine(name) {
  if (name) return `${usageLines(COMMANDS[name])}\nRun "fine-tune ${name} --help" for details.`
  return `Usage: fine-tune <command> [options]\n\nCommands:\n${commandList()}\n\nRun "fine-tune --help" or "fine-tune <command> --help" for details.`
}

module.exports = { topHelp, commandHelp, usageLine }
