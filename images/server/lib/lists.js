'use strict'
// whitelist.json and ops.json in /data, in vanilla's format, kept across restarts.

const crypto = require('crypto')
const fs = require('fs')
const path = require('path')

// Vanilla's offline-mode UUID: a version 3 UUID of "OfflinePlayer:<name>".
function offlineUuid (name) {
  const hash = crypto.createHash('md5').update(`OfflinePlayer:${name}`).digest()
  hash[6] = (hash[6] & 0x0f) | 0x30
  hash[8] = (hash[8] & 0x3f) | 0x80
  const hex = hash.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

class PlayerList {
  constructor (file, entry) {
    this.file = file
    this.entry = entry
    this.items = []
    this.existed = false
    try {
      this.items = JSON.parse(fs.readFileSync(file, 'utf8'))
      this.existed = true
    } catch (err) {
      if (err.code !== 'ENOENT') throw err
    }
  }

  has (name) {
    return this.items.some(item => item.name.toLowerCase() === name.toLowerCase())
  }

  add (name) {
    if (this.has(name)) return false
    this.items.push(this.entry(name))
    this.save()
    return true
  }

  remove (name) {
    const before = this.items.length
    this.items = this.items.filter(item => item.name.toLowerCase() !== name.toLowerCase())
    if (this.items.length === before) return false
    this.save()
    return true
  }

  // At start, as itzg: 'synchronize' makes the file exactly the env's list (an empty list
  // empties it), 'merge' adds the list's names to the file, 'skip' writes the list only when
  // there is no file yet.
  apply (names, mode, existed) {
    if (mode === 'skip' && existed) return
    if (mode === 'synchronize') this.items = this.items.filter(item => names.some(n => n.toLowerCase() === item.name.toLowerCase()))
    for (const name of names) if (!this.has(name)) this.items.push(this.entry(name))
    this.save()
  }

  names () {
    return this.items.map(item => item.name)
  }

  save () {
    const tmp = `${this.file}.tmp`
    fs.writeFileSync(tmp, JSON.stringify(this.items, null, 2) + '\n')
    fs.renameSync(tmp, this.file)
  }
}

function whitelist (dataDir) {
  return new PlayerList(path.join(dataDir, 'whitelist.json'), name => ({ uuid: offlineUuid(name), name }))
}

function ops (dataDir) {
  return new PlayerList(path.join(dataDir, 'ops.json'), name => ({ uuid: offlineUuid(name), name, level: 4, bypassesPlayerLimit: false }))
}

module.exports = { whitelist, ops, offlineUuid }
