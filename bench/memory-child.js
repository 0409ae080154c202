'use strict'

// Run by memory.js in a fresh process: loads one strategy with `size` customer sessions, serves
// lookups over them, and prints what that added to the process's memory as JSON. A fresh process,
// because in one that has just freed other stores, the allocators hand that memory out again and RSS
// growth comes out small or negative (the bench measured both before moving this here).

const pop = require('./population.js')
const { fill } = require('./fill.js')
const { strategies } = require('./strategies.js')

const LOOKUPS = 50_000 // enough to fill this project's per-thread near cache, as a serving process would

async function settledMemory() {
  global.gc()
  await new Promise((resolve) => setTimeout(resolve, 100))
  global.gc()
  const { rss, heapUsed } = process.memoryUsage()
  return { rss, heapUsed }
}

async function main() {
  const [id, sizeArg] = process.argv.slice(2)
  const size = Number(sizeArg)
  const entry = strategies({ redis: null }).find((s) => s.id === id)
  const tokens = pop.newTokens(size)
  const before = await settledMemory()
  const instance = await entry.create({ capacity: size })
  await fill(instance.strategy, entry.async, size, (i) => pop.customer(tokens[i]))
  const held = await instance.size()
  const lookups = pop.pickFresh(tokens, LOOKUPS, pop.random(7), size - held, size)
  for (const token of lookups) {
    if (entry.async) await instance.strategy.get(token)
    else instance.strategy.get(token)
  }
  lookups.length = 0
  const after = await settledMemory()
  const tagged = await instance.tagged?.()
  const figures = { held, tagged, rssBytes: after.rss - before.rss, heapBytes: after.heapUsed - before.heapUsed }
  process.stdout.write(`\n${JSON.stringify(figures)}\n`)
  await instance.destroy()
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
