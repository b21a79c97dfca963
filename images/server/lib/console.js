'use strict'
// The server console: vanilla's answers for the commands the platform uses, flying-squid's
// own commands for the rest. One place for RCON and stdin alike.

function listAnswer (serv, max) {
  const names = serv.players.map(p => p.username)
  return `There are ${names.length} of a max of ${max} players online: ${names.join(', ')}`
}

function createConsole ({ serv, settings, whitelist, ops, saves, shutdown, log }) {
  const handlers = {
    list: () => listAnswer(serv, settings.maxPlayers),
    'save-all': async () => {
      await saves.saveAll()
      return 'Saved the game'
    },
    'save-off': () => {
      if (!saves.autosave) return 'Saving is already turned off'
      saves.setAutosave(false)
      return 'Automatic saving is now disabled'
    },
    'save-on': () => {
      if (saves.autosave) return 'Saving is already turned on'
      saves.setAutosave(true)
      return 'Automatic saving is now enabled'
    },
    stop: () => {
      setImmediate(() => shutdown('stop command'))
      return 'Stopping the server'
    },
    say: args => {
      const text = args.join(' ')
      serv.broadcast(`[Server] ${text}`)
      log(`[Server] ${text}`)
      return ''
    },
    whitelist: args => whitelistCommand(args, { serv, settings, whitelist }),
    op: ([name]) => {
      if (!name) return 'Usage: /op <player>'
      const online = serv.getPlayer(name)
      if (online) online.op = true
      return ops.add(name) ? `Made ${name} a server operator` : 'Nothing changed. The player already is an operator'
    },
    deop: ([name]) => {
      if (!name) return 'Usage: /deop <player>'
      const online = serv.getPlayer(name)
      if (online) online.op = false
      return ops.remove(name) ? `Made ${name} no longer a server operator` : 'Nothing changed. The player is not an operator'
    }
  }
  return async function run (line) {
    const command = String(line).trim().replace(/^\//, '')
    if (!command) return ''
    const [base, ...args] = command.split(/\s+/)
    const handler = handlers[base.toLowerCase()]
    if (handler) return handler(args)
    const output = await serv.commands.use(command, {}, true)
    return output === undefined || output === null ? '' : String(output)
  }
}

function whitelistCommand ([action, name], { serv, settings, whitelist }) {
  switch ((action || '').toLowerCase()) {
    case 'add':
      if (!name) return 'Usage: /whitelist add <player>'
      return whitelist.add(name) ? `Added ${name} to the whitelist` : 'Player is already whitelisted'
    case 'remove': {
      if (!name) return 'Usage: /whitelist remove <player>'
      const removed = whitelist.remove(name)
      const online = serv.getPlayer(name)
      if (removed && online && settings.whitelist.enabled) online.kick('You are not white-listed on this server!')
      return removed ? `Removed ${name} from the whitelist` : 'Player is not whitelisted'
    }
    case 'list': {
      const names = whitelist.names()
      return `There are ${names.length} whitelisted player(s): ${names.join(', ')}`
    }
    case 'on':
      settings.whitelist.enabled = true
      return 'Whitelist is now turned on'
    case 'off':
      settings.whitelist.enabled = false
      return 'Whitelist is now turned off'
    case 'reload':
      return 'Reloaded the whitelist'
    default:
      return 'Usage: /whitelist <add|remove|list|on|off|reload>'
  }
}

module.exports = { createConsole }
