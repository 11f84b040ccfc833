// Data sets for evaluation tests: support tickets routed by a tool call (a task a model learns
// from its examples), and unrelated short poems.

const QUEUES: Record<string, string[]> = {
  billing: ['charged', 'twice', 'invoice', 'refund', 'payment', 'card', 'billing', 'subscription'],
  shipping: ['package', 'delivery', 'tracking', 'arrived', 'courier', 'late', 'parcel', 'shipment'],
  account: ['password', 'login', 'locked', 'email', 'reset', 'username', 'profile', 'account'],
  technical: ['crash', 'error', 'app', 'bug', 'freezes', 'update', 'screen', 'slow'],
}

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'route_ticket',
      description: 'Send a ticket to a queue',
      parameters: { type: 'object', properties: { queue: { type: 'string', enum: Object.keys(QUEUES) } }, required: ['queue'] },
    },
  },
]

/** A small seeded generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `n` ticket-routing examples; `seed` picks the words, so two seeds give disjoint examples of one distribution. */
export function ticketsJsonl(n: number, seed: number): string {
  const r = rng(seed)
  const names = Object.keys(QUEUES)
  const lines: string[] = []
  for (let i = 0; i < n; i++) {
    const queue = names[i % names.length]
    const words = [...QUEUES[queue]].sort(() => r() - 0.5).slice(0, 4)
    lines.push(
      JSON.stringify({
        messages: [
          { role: 'system', content: 'Route the support ticket to its queue.' },
          { role: 'user', content: `Customer ${seed}-${i}: ${words.join(' ')}` },
          {
            role: 'assistant',
            tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'route_ticket', arguments: JSON.stringify({ queue }) } }],
          },
        ],
        tools: TOOLS,
      }),
    )
  }
  return lines.join('\n') + '\n'
}

/** `n` unrelated examples: short poems. */
export function poemsJsonl(n: number): string {
  const topics = ['autumn', 'rivers', 'stars', 'mountains', 'rain', 'cities', 'the sea', 'winter']
  return (
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        messages: [
          { role: 'system', content: 'You write very short poems.' },
          { role: 'user', content: `A poem about ${topics[i % topics.length]}, number ${i}` },
          { role: 'assistant', content: `Quiet ${topics[i % topics.length]} / drifting past the evening light / poem ${i} ends here` },
        ],
      }),
    ).join('\n') + '\n'
  )
}
