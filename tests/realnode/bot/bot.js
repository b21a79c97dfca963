'use strict'
// A real Minecraft Java client for the tests: joins, optionally reports the block at a
// position and the players it sees, stays for a while, quits, and prints one JSON line.
//   node bot.js --host H --port P --username U [--block x,y,z] [--blocks x,y,z;x,y,z]
//               [--stay SECONDS] [--walk true] [--chat TEXT] [--fakeHost NAME]
// --fakeHost: the server address the handshake names (as a client that resolved NAME to
// HOST would send it): how a player reaches one server of many behind the router.
// --walk: walks back and forth while it stays, so the server has a moving player to save.
// Every chat/system message it receives is in the report's "messages", also when kicked.
const mineflayer = require('mineflayer')
const { Vec3 } = require('vec3')

function args () {
  const out = { stay: 0 }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1]
  return out
}

const opts = args()
let timeout = setTimeout(() => finish({ error: 'timed out before spawning' }, 1), 60000)
const bot = mineflayer.createBot({
  host: opts.host,
  port: Number(opts.port || 25565),
  username: opts.username || 'CraftplaneBot',
  auth: 'offline',
  ...(opts.fakeHost ? { fakeHost: opts.fakeHost } : {}),
  version: '1.21.4',
  hideErrors: true
})

const messages = []
bot.on('messagestr', text => messages.push(text))

let done = false
function finish (result, code = 0) {
  if (done) return
  done = true
  clearTimeout(timeout)
  process.stdout.write(JSON.stringify({ ...result, messages }) + '\n')
  try { bot.quit() } catch (err) {}
  setTimeout(() => process.exit(code), 500)
}

bot.once('kicked', reason => finish({ kicked: typeof reason === 'string' ? reason : JSON.stringify(reason) }, 2))
bot.once('error', err => finish({ error: err.message }, 1))
// The connection closed without a kick (a proxy or router in between went away).
bot.once('end', reason => finish({ ended: String(reason) }, 3))
bot.once('spawn', async () => {
  clearTimeout(timeout)
  if (opts.ready) process.stderr.write('spawned\n')
  const result = { spawned: true, username: bot.username, position: bot.entity.position }
  try {
    if (opts.chat) bot.chat(opts.chat)
    if (opts.block) {
      const [x, y, z] = opts.block.split(',').map(Number)
      await bot.waitForChunksToLoad()
      const block = bot.blockAt(new Vec3(x, y, z))
      result.block = block ? block.name : null
    }
    if (opts.blocks) {
      await bot.waitForChunksToLoad()
      result.blocks = {}
      for (const at of opts.blocks.split(';')) {
        const [x, y, z] = at.split(',').map(Number)
        const block = bot.blockAt(new Vec3(x, y, z))
        result.blocks[at] = block ? block.name : null
      }
    }
    let walker = null
    if (opts.walk) {
      let forward = true
      bot.setControlState('forward', true)
      walker = setInterval(() => {
        bot.setControlState(forward ? 'forward' : 'back', false)
        forward = !forward
        bot.setControlState(forward ? 'forward' : 'back', true)
      }, 1500)
    }
    await new Promise(resolve => setTimeout(resolve, Number(opts.stay) * 1000))
    if (walker) clearInterval(walker)
    bot.clearControlStates()
    result.players = Object.keys(bot.players)
  } catch (err) {
    result.error = err.message
  }
  finish(result, result.error ? 1 : 0)
})
