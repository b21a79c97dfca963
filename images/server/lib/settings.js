'use strict'
// The itzg/minecraft-server environment interface, as far as the operator relies on it.
// Unknown variables are ignored, as the real image ignores variables it does not know.

const fs = require('fs')
const path = require('path')

// flying-squid speaks exactly this Java protocol version (769).
const GAME_VERSION = '1.21.4'
const TYPES = ['VANILLA', 'PAPER', 'PURPUR', 'FABRIC', 'FORGE', 'NEOFORGE', 'QUILT', 'SPIGOT', 'BUKKIT', 'FOLIA', 'MOHIST']

class SettingsError extends Error {}

function flag (value, fallback) {
  if (value === undefined || value === '') return fallback
  return String(value).trim().toLowerCase() === 'true'
}

function names (value) {
  return String(value || '').split(/[\s,]+/).map(s => s.trim()).filter(Boolean)
}

// "1024M", "2G", "512m": the JVM's -Xmx syntax, in bytes.
function memoryBytes (value) {
  if (!value) return 0
  const m = /^([0-9]+)([kKmMgG]?)$/.exec(String(value).trim())
  if (!m) throw new SettingsError(`MEMORY=${value} is not a JVM memory size such as 1024M or 2G`)
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()]
  return Number(m[1]) * unit
}

function rconPassword (env) {
  if (env.RCON_PASSWORD_FILE) {
    try {
      return fs.readFileSync(env.RCON_PASSWORD_FILE, 'utf8').trim()
    } catch (err) {
      throw new SettingsError(`RCON_PASSWORD_FILE=${env.RCON_PASSWORD_FILE} cannot be read: ${err.message}`)
    }
  }
  return env.RCON_PASSWORD || ''
}

// CUSTOM_SERVER_PROPERTIES: one key=value per line (or ; separated is not supported, as itzg).
function customProperties (text) {
  const props = {}
  for (const line of String(text || '').split('\n')) {
    const trimmed = line.trim()
    if (!trimmed || trimmed.startsWith('#')) continue
    const at = trimmed.indexOf('=')
    if (at <= 0) throw new SettingsError(`CUSTOM_SERVER_PROPERTIES line "${trimmed}" is not key=value`)
    props[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim()
  }
  return props
}

// STOP_DURATION: seconds mc-server-runner waits for the server to stop after SIGTERM (itzg's
// default is 60); past it the runner kills the server and exits with an error.
function stopSeconds (value) {
  if (value === undefined || value === '') return 60
  const seconds = Number(value)
  if (!Number.isInteger(seconds) || seconds <= 0) throw new SettingsError(`STOP_DURATION=${value} is not a whole number of seconds above 0`)
  return seconds
}

// EXISTING_WHITELIST_FILE / EXISTING_OPS_FILE, as itzg reads them: SYNCHRONIZE makes the file
// exactly the list, MERGE adds the list to what the file holds, SYNC_FILE_MERGE_LIST merges
// too (this stand-in has no separate list file), SKIP (the default) leaves an existing file.
function existingFileMode (value) {
  const mode = String(value || 'SKIP').toUpperCase()
  if (mode === 'SYNCHRONIZE') return 'synchronize'
  if (mode === 'MERGE' || mode === 'SYNC_FILE_MERGE_LIST') return 'merge'
  if (mode === 'SKIP') return 'skip'
  throw new SettingsError(`${value} is not SYNCHRONIZE, MERGE, SYNC_FILE_MERGE_LIST or SKIP`)
}

function load (env, dataDir) {
  if (!flag(env.EULA, false)) {
    throw new SettingsError('EULA must be set to TRUE to indicate agreement with the Minecraft End User License Agreement (https://aka.ms/MinecraftEULA)')
  }
  const type = String(env.TYPE || 'VANILLA').toUpperCase()
  if (!TYPES.includes(type)) throw new SettingsError(`TYPE=${type} is not a known server type (${TYPES.join(', ')})`)
  const version = String(env.VERSION || 'LATEST').toUpperCase() === 'LATEST' ? GAME_VERSION : String(env.VERSION)
  if (version !== GAME_VERSION) {
    throw new SettingsError(`VERSION=${version} is not available: this server runs Minecraft ${GAME_VERSION} only`)
  }
  const port = Number(env.SERVER_PORT || 25565)
  const rconPort = Number(env.RCON_PORT || 25575)
  const difficulty = { peaceful: 0, easy: 1, normal: 2, hard: 3 }[String(env.DIFFICULTY || 'easy').toLowerCase()]
  const mode = { survival: 0, creative: 1, adventure: 2, spectator: 3 }[String(env.MODE || 'survival').toLowerCase()]
  if (difficulty === undefined) throw new SettingsError(`DIFFICULTY=${env.DIFFICULTY} is not peaceful, easy, normal or hard`)
  if (mode === undefined) throw new SettingsError(`MODE=${env.MODE} is not survival, creative, adventure or spectator`)
  const settings = {
    type,
    version,
    dataDir,
    worldFolder: path.join(dataDir, env.LEVEL || 'world'),
    port,
    motd: env.MOTD || 'A Minecraft Server',
    maxPlayers: Number(env.MAX_PLAYERS || 20),
    onlineMode: flag(env.ONLINE_MODE, true),
    pvp: flag(env.PVP, true),
    viewDistance: Number(env.VIEW_DISTANCE || 10),
    difficulty,
    mode,
    seed: env.SEED ? Number.parseInt(env.SEED, 10) || hashSeed(env.SEED) : undefined,
    heapBytes: memoryBytes(env.MAX_MEMORY || env.MEMORY || '1G'),
    rcon: {
      enabled: flag(env.ENABLE_RCON, true),
      port: rconPort,
      password: rconPassword(env)
    },
    whitelist: {
      enabled: flag(env.ENABLE_WHITELIST, names(env.WHITELIST || env.ALLOWLIST).length > 0),
      names: names(env.WHITELIST || env.ALLOWLIST),
      existing: existingFileMode(env.EXISTING_WHITELIST_FILE || env.EXISTING_ALLOWLIST_FILE)
    },
    ops: {
      names: names(env.OPS),
      existing: existingFileMode(env.EXISTING_OPS_FILE)
    },
    stopSeconds: stopSeconds(env.STOP_DURATION),
    custom: customProperties(env.CUSTOM_SERVER_PROPERTIES),
    // Stand-in knobs (not itzg): memory held besides the heap, as mods and off-heap buffers
    // would; and the autosave period (vanilla saves every 6000 ticks = 5 minutes).
    reserveBytes: memoryBytes(env.STANDIN_RESERVE_MEMORY || '0'),
    autosaveSeconds: Number(env.STANDIN_AUTOSAVE_SECONDS || 300),
    // A save on stop this much slower, to prove what happens past STOP_DURATION.
    stopSaveDelaySeconds: Number(env.STANDIN_STOP_SAVE_DELAY_SECONDS || 0)
  }
  if (settings.rcon.enabled && !settings.rcon.password) {
    throw new SettingsError('ENABLE_RCON is TRUE but neither RCON_PASSWORD nor RCON_PASSWORD_FILE is set')
  }
  return settings
}

function hashSeed (text) {
  // Java's String.hashCode, which vanilla uses for a non-numeric level-seed.
  let h = 0
  for (const c of text) h = (Math.imul(31, h) + c.charCodeAt(0)) | 0
  return h
}

function properties (s) {
  const props = {
    motd: s.motd,
    'max-players': s.maxPlayers,
    'online-mode': s.onlineMode,
    pvp: s.pvp,
    'view-distance': s.viewDistance,
    difficulty: ['peaceful', 'easy', 'normal', 'hard'][s.difficulty],
    gamemode: ['survival', 'creative', 'adventure', 'spectator'][s.mode],
    'server-port': s.port,
    'enable-rcon': s.rcon.enabled,
    'rcon.port': s.rcon.port,
    'white-list': s.whitelist.enabled,
    'enforce-whitelist': s.whitelist.enabled,
    'level-name': path.basename(s.worldFolder),
    ...s.custom
  }
  if (s.seed !== undefined) props['level-seed'] = s.seed
  return props
}

// server.properties as the real image writes it; the RCON password stays out of the file
// when it came from a file, as itzg does with RCON_PASSWORD_FILE.
function writeProperties (s) {
  const lines = ['#Minecraft server properties (written by the Craftplane sandbox stand-in)']
  for (const [key, value] of Object.entries(properties(s))) lines.push(`${key}=${String(value).replace(/\n/g, ' ')}`)
  fs.writeFileSync(path.join(s.dataDir, 'server.properties'), lines.join('\n') + '\n')
  fs.writeFileSync(path.join(s.dataDir, 'eula.txt'), 'eula=true\n')
}

module.exports = { load, writeProperties, properties, SettingsError, GAME_VERSION, memoryBytes }
