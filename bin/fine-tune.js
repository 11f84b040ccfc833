#!/usr/bin/env node
// The `fine-tune` command line. Each command is a file in ./cli/commands/; ./cli/main.js picks
// one, parses its flags (./cli/options.js) and prints through ./cli/render.js.
'use strict'

require('./cli/main').start(process.argv.slice(2))
