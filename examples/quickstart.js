// The README's quick start: a real fine-tune, end to end, against the built-in emulator
// (offline, free). Swap `baseUrl`/`apiKey` for your OpenAI account to train for real.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startEmulator, trainAndRegisterFineTunedModel } = require('..')

function trainingData(n) {
  const lines = []
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        messages: [
          { role: 'system', content: 'You are ContentWriter, a concise marketing copywriter.' },
          { role: 'user', content: `Write a one-line tagline for product #${i + 1}.` },
          { role: 'assistant', content: `Product #${i + 1}: made to last, priced to move.` },
        ],
      }),
    )
  }
  return lines.join('\n') + '\n'
}

async function main() {
  const emulator = await startEmulator({ jobDurationMs: 1500 })
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fine-tune-quickstart-'))
  try {
    const source = path.join(work, 'training_data.jsonl')
    fs.writeFileSync(source, trainingData(20))
    const registryPath = path.join(work, 'fine-tuned', 'models.json')
    console.log(`emulator: ${emulator.url}`)
    const model = await trainAndRegisterFineTunedModel({
      agentName: 'ContentWriter',
      modelKey: 'content_writer_v1',
      baseModel: 'gpt-4o-mini-2024-07-18',
      source,
      apiKey: emulator.apiKey,
      baseUrl: emulator.url,
      registryPath,
      pollIntervalMs: 200,
      onProgress: (e) => {
        if (e.type === 'jobEvent') console.log(`  [${e.level}] ${e.message}`)
        else if (e.type === 'status') console.log(`  status: ${e.status}`)
        else if (e.type !== 'dataChecked') console.log(`  ${e.type}`)
      },
    })
    console.log('registered:', model)
    console.log(`${registryPath}:\n${fs.readFileSync(registryPath, 'utf8')}`)
  } finally {
    await emulator.close()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
