'use strict'
// Craftplane's sandbox stand-in for the itzg/minecraft-server image: a real Java-protocol
// Minecraft server (flying-squid, protocol 769 = 1.21.4) behind the image's env interface,
// with RCON, a world under /data and SIGTERM -> save -> exit. Test infrastructure only:
// production runs the real itzg image.

const fs = require('fs')
const path = require('path')
const readline = require('readline')
const { load, writeProperties, SettingsError } = require('./lib/settings')
const lists = require('./lib/lists')
const rcon = require('./lib/rcon')
const { createConsole } = require('./lib/console')

const DATA = process.env.CRAFTPLANE_DATA_DIR || '/data'

function log (message) {
  process.stdout.write(`[${new Date().toISOString()}] [Server thread/INFO]: ${message}\n`)
}

function fail (message) {
  process.stderr.write(`[init] ERROR: ${message}\n`)
  process.exit(1)
}

// Memory held besides the heap, touched so it is really resident (as mods would be).
function reserve (bytes) {
  if (bytes <= 0) return []
  const blocks = []
  const block = 64 * 1024 * 1024
  for (let left = bytes; left > 0; left -= block) blocks.push(Buffer.alloc(Math.min(block, left), 1))
  log(`holding ${Math.round(bytes / 1024 / 1024)} MiB besides the heap (STANDIN_RESERVE_MEMORY)`)
  return blocks
}

// flying-squid's exit hook quits on SIGTERM without saving and exits 143; this server saves
// first. The hook module is replaced by a no-op before flying-squid loads it.
function disarmExitHook () {
  const Module = require('module')
  const file = require.resolve('exit-hook', { paths: [path.dirname(require.resolve('flying-squid'))] })
  const stub = new Module(file)
  stub.filename = file
  stub.loaded = true
  stub.exports = () => () => {}
  require.cache[file] = stub
}

function main () {
  let settings
  try {
    settings = load(process.env, DATA)
  } catch (err) {
    if (err instanceof SettingsError) fail(err.message)
    throw err
  }
  fs.mkdirSync(settings.worldFolder, { recursive: true })
  process.chdir(DATA)
  writeProperties(settings)
  const whitelist = lists.whitelist(DATA)
  const ops = lists.ops(DATA)
  for (const [list, wanted] of [[whitelist, settings.whitelist], [ops, settings.ops]]) {
    if (wanted.names.length || wanted.existing === 'synchronize') list.apply(wanted.names, wanted.existing, list.existed)
  }
  const held = reserve(settings.reserveBytes)
  log(`Starting minecraft server version ${settings.version} (${settings.type} stand-in: flying-squid)`)

  disarmExitHook()
  const mcServer = require('flying-squid')
  const serv = mcServer.createMCServer({
    motd: settings.motd,
    port: settings.port,
    'max-players': settings.maxPlayers,
    'online-mode': settings.onlineMode,
    logging: false,
    gameMode: settings.mode,
    difficulty: settings.difficulty,
    worldFolder: settings.worldFolder,
    generation: { name: 'diamond_square', options: { worldHeight: 80, seed: settings.seed } },
    kickTimeout: 10000,
    plugins: {},
    modpe: false,
    'view-distance': Math.min(settings.viewDistance, 10),
    'player-list-text': { header: { text: settings.motd }, footer: { text: 'Craftplane sandbox' } },
    'everybody-op': false,
    'max-entities': 100,
    version: settings.version,
    // Vanilla lists up to 12 online players in its status answer; flying-squid lists none.
    beforePing: (response) => {
      response.players.sample = serv.players.slice(0, 12).map(p => ({ name: p.username, id: p.uuid }))
      return response
    }
  })

  // Vanilla keeps one world spawn. flying-squid picks a random column on every join and
  // walks east out of water, which can put a player hundreds of blocks (and chunks outside
  // its view) from where it was: the spawn here is one column, whatever stands on it.
  const { Vec3 } = require(require.resolve('vec3', { paths: [path.dirname(require.resolve('flying-squid'))] }))
  serv.getSpawnPoint = async (world) => {
    let point = new Vec3(8, 81, 8)
    while (point.y > 0 && (await world.getBlockType(point)) === 0) point = point.offset(0, -1, 0)
    return point.offset(0, 1, 0)
  }

  let autosaveTimer = null
  const saves = {
    autosave: true,
    async saveAll () {
      await Promise.all(serv.players.map(p => p.save()))
      await serv.overworld.waitSaving()
      log('Saved the game')
    },
    setAutosave (on) {
      this.autosave = on
      clearInterval(autosaveTimer)
      autosaveTimer = on ? setInterval(() => this.saveAll().catch(err => log(`autosave failed: ${err.message}`)), settings.autosaveSeconds * 1000) : null
    }
  }

  // Like itzg's mc-server-runner: after SIGTERM (or "stop") the server has STOP_DURATION
  // seconds to save and exit; past that it is killed and the exit code says so, never a
  // silent 0 over a half-saved world.
  let stopping = false
  async function shutdown (why) {
    if (stopping) return
    stopping = true
    log(`Stopping the server (${why}); saving within ${settings.stopSeconds}s (STOP_DURATION)`)
    const deadline = setTimeout(() => {
      process.stderr.write(`[init] ERROR: the server did not save and stop within STOP_DURATION=${settings.stopSeconds}s; killed before the world was completely saved\n`)
      process.exit(1)
    }, settings.stopSeconds * 1000)
    try {
      if (settings.stopSaveDelaySeconds > 0) await new Promise(resolve => setTimeout(resolve, settings.stopSaveDelaySeconds * 1000))
      for (const player of [...serv.players]) {
        await player.save()
        player.kick('Server closed')
      }
      await serv.overworld.waitSaving()
      log('Saved the world; all chunks are saved')
    } catch (err) {
      process.stderr.write(`[init] ERROR: saving on stop failed: ${err.stack || err.message}\n`)
      process.exit(1)
    }
    clearTimeout(deadline)
    held.length = 0
    process.exit(0)
  }

  const run = createConsole({ serv, settings, whitelist, ops, saves, shutdown, log })

  serv.on('error', err => log(`server error: ${err.stack || err}`))
  serv.on('newPlayer', player => {
    // At this point flying-squid has not copied the name from the login yet.
    const name = player._client.username
    if (settings.whitelist.enabled && !whitelist.has(name)) {
      log(`${name} was refused: not white-listed`)
      player.kick('You are not white-listed on this server!')
      return
    }
    if (ops.has(name)) player.op = true
    log(`${name} joined the game`)
    player.on('disconnected', () => log(`${name} left the game`))
  })

  serv.on('ready', () => {
    // flying-squid saves modified chunks every second and exits on SIGTERM without saving
    // (its exit hook); a real server autosaves every few minutes and saves on stop, which is
    // what backups and graceful stops must be proven against.
    serv.overworld.stopSaving()
    saves.setAutosave(true)
    process.removeAllListeners('SIGTERM')
    process.removeAllListeners('SIGINT')
    process.on('SIGTERM', () => shutdown('SIGTERM'))
    process.on('SIGINT', () => shutdown('SIGINT'))
    if (settings.rcon.enabled) {
      rcon.listen({ port: settings.rcon.port, password: settings.rcon.password, run, log })
    }
    if (!process.stdin.isTTY && process.stdin.readable) {
      readline.createInterface({ input: process.stdin }).on('line', async line => log(await run(line)))
    }
    log(`Done! Listening on 0.0.0.0:${settings.port} (world: ${path.relative(DATA, settings.worldFolder)})`)
  })
}

main()
