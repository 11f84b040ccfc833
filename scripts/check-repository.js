#!/usr/bin/env node
// Run by the release workflow before `npm publish --provenance`: the `repository.url` of
// package.json and of every npm/<platform>/package.json must name the GitHub repository the
// workflow runs in (GITHUB_REPOSITORY, `owner/name`), or npm refuses the provenance. The
// committed value is a placeholder (github.com/OWNER/…) until the project has its public home:
// set it in package.json, then `npx napi create-npm-dirs` copies it into npm/<platform>/.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
/** The committed placeholder's owner. */
const PLACEHOLDER = 'github.com/owner/'

/** `git+https://github.com/Owner/Name.git` -> `github.com/owner/name` */
function normalize(url) {
  return String(url || '')
    .trim()
    .replace(/^git\+/, '')
    .replace(/^(https?|git|ssh):\/\/(git@)?/, '')
    .replace(/^git@github\.com:/, 'github.com/')
    .replace(/\.git$/, '')
    .replace(/\/+$/, '')
    .toLowerCase()
}

/** The problems with the repository fields, given the workflow's `owner/name` (empty: none). */
function repositoryProblems(repo) {
  const expected = `github.com/${String(repo).toLowerCase()}`
  const manifests = [
    'package.json',
    ...fs.readdirSync(path.join(root, 'npm')).map((d) => path.join('npm', d, 'package.json')),
  ].filter((f) => fs.existsSync(path.join(root, f)))
  const problems = []
  for (const f of manifests) {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, f), 'utf8'))
    const url = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository && pkg.repository.url
    if (normalize(url).startsWith(PLACEHOLDER)) {
      problems.push(`${f}: repository.url is the placeholder ${JSON.stringify(url)}`)
    } else if (normalize(url) !== expected) {
      problems.push(`${f}: repository.url is ${url ? JSON.stringify(url) : 'missing'}, not https://${expected}`)
    }
  }
  return problems
}

module.exports = { repositoryProblems, normalize }

if (require.main === module) {
  const repo = process.argv[2] || process.env.GITHUB_REPOSITORY
  if (!repo) {
    console.error('check-repository: give owner/name (or set GITHUB_REPOSITORY)')
    process.exit(2)
  }
  const problems = repositoryProblems(repo)
  if (problems.length) {
    console.error(problems.join('\n'))
    console.error(
      'npm publish --provenance needs repository.url to name this repository: set it in package.json, ' +
        'then run npx napi create-npm-dirs to copy it into npm/<platform>/package.json.',
    )
    process.exit(1)
  }
  console.log(`repository: https://github.com/${repo} in package.json and npm/*/package.json`)
}
