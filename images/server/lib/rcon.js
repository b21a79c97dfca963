'use strict'
// A Source RCON server (https://developer.valvesoftware.com/wiki/Source_RCON_Protocol), as
// vanilla's: authenticate with the password, then one command per packet.

const net = require('net')

const AUTH = 3
const EXEC = 2
const AUTH_RESPONSE = 2
const RESPONSE = 0
// Vanilla's limit for one response packet body.
const MAX_BODY = 4096

function encode (id, type, body) {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')
  const packet = Buffer.alloc(14 + payload.length)
  packet.writeInt32LE(10 + payload.length, 0)
  packet.writeInt32LE(id, 4)
  packet.writeInt32LE(type, 8)
  payload.copy(packet, 12)
  return packet
}

function listen ({ port, password, run, log }) {
  const server = net.createServer(socket => {
    let buffer = Buffer.alloc(0)
    let authed = false
    // One packet at a time, in order: answers must not overtake each other.
    let queue = Promise.resolve()
    socket.setNoDelay(true)
    socket.on('error', () => socket.destroy())
    socket.on('data', chunk => {
      queue = queue.then(() => handle(chunk)).catch(() => socket.destroy())
    })
    async function handle (chunk) {
      buffer = Buffer.concat([buffer, chunk])
      while (buffer.length >= 4) {
        const length = buffer.readInt32LE(0)
        if (length < 10 || length > 1460 * 10) return socket.destroy()
        if (buffer.length < 4 + length) return
        const id = buffer.readInt32LE(4)
        const type = buffer.readInt32LE(8)
        const body = buffer.subarray(12, 4 + length - 2).toString('utf8')
        buffer = buffer.subarray(4 + length)
        if (type === AUTH) {
          authed = body === password
          if (!authed) log(`RCON: failed login from ${socket.remoteAddress}`)
          socket.write(encode(authed ? id : -1, AUTH_RESPONSE, ''))
          continue
        }
        if (!authed || type !== EXEC) {
          socket.write(encode(-1, AUTH_RESPONSE, ''))
          continue
        }
        let output
        try {
          output = String(await run(body))
        } catch (err) {
          output = `Error: ${err.message}`
        }
        const bytes = Buffer.from(output, 'utf8')
        if (bytes.length === 0) socket.write(encode(id, RESPONSE, ''))
        for (let at = 0; at < bytes.length; at += MAX_BODY) {
          socket.write(encode(id, RESPONSE, bytes.subarray(at, at + MAX_BODY)))
        }
      }
    }
  })
  server.listen(port, '0.0.0.0', () => log(`RCON running on 0.0.0.0:${port}`))
  return server
}

module.exports = { listen }
