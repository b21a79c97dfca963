package main

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// What the fast path can tell from the first bytes of a connection. Anything it cannot parse
// cleanly is the Python router's to judge (and to answer, refuse or count): the fast path
// only ever forwards, and only what it is sure about.
type verdict int

const (
	needMore verdict = iota
	parsed
	notMine // hand it to the Python router
)

const (
	maxHandshake = 1024 // the Python router's handshake.MAX_HANDSHAKE
	maxHeader    = 512  // the Python router's proxy_header.MAX_HEADER
	maxVarint    = 5
)

var (
	proxySignature = []byte("\r\n\r\n\x00\r\nQUIT\n")
	legacyPing     = []byte{0xfe, 0x01, 0xfa} // a pre-1.7 server list ping
)

// The PROXY v2 headers the fast path reads itself: TCP over IPv4 or IPv6 with no TLVs
// (nothing to checksum). A header with TLVs (a cloud balancer's, perhaps with a CRC32C the
// Python router checks) goes to the Python router with the connection.
const (
	plainHeaderV4 = 16 + 12
	plainHeaderV6 = 16 + 36
)

// uvarint32 reads a Minecraft varint (LEB128, at most 5 bytes): the value, its width, and
// whether it was whole; ok false with width 0 means more bytes are needed.
func uvarint32(b []byte) (value uint64, width int, ok bool) {
	limit := b
	if len(limit) > maxVarint {
		limit = limit[:maxVarint]
	}
	value, width = binary.Uvarint(limit)
	switch {
	case width > 0 && value <= 0x7fffffff:
		return value, width, true
	case width == 0 && len(limit) < maxVarint:
		return 0, 0, false
	default:
		return 0, -1, false
	}
}

type handshake struct {
	key  string // the routing key: hostnames.normalize of the address
	size int    // bytes of the framed packet, its length prefix included
}

// parseHandshake: the handshake the bytes start with (protocol, address, port, next state),
// framed as the Python router's handshake.parse reads it.
func parseHandshake(b []byte) (handshake, verdict) {
	if bytes.HasPrefix(b, legacyPing) {
		return handshake{}, notMine
	}
	length, width, ok := uvarint32(b)
	if !ok {
		if width == 0 {
			return handshake{}, needMore
		}
		return handshake{}, notMine
	}
	if length < 1 || int(length)+width > maxHandshake {
		return handshake{}, notMine
	}
	if len(b) < width+int(length) {
		return handshake{}, needMore
	}
	packet := b[width : width+int(length)]
	fields := []uint64{}
	var address []byte
	for step := 0; step < 5; step++ {
		switch step {
		case 2: // the address: a varint length, then UTF-8
			n, w, ok := uvarint32(packet)
			if !ok || int(n) > len(packet)-w {
				return handshake{}, notMine
			}
			address, packet = packet[w:w+int(n)], packet[w+int(n):]
		case 3: // the port: two bytes
			if len(packet) < 2 {
				return handshake{}, notMine
			}
			packet = packet[2:]
		default: // packet id, protocol, next state
			v, w, ok := uvarint32(packet)
			if !ok {
				return handshake{}, notMine
			}
			fields, packet = append(fields, v), packet[w:]
		}
	}
	id, next := fields[0], fields[2]
	if id != 0 || len(packet) != 0 || next < 1 || next > 3 {
		return handshake{}, notMine
	}
	key, ok := normalize(address)
	if !ok {
		return handshake{}, notMine
	}
	return handshake{key: key, size: width + int(length)}, parsed
}

// normalize: craftplane.contracts.hostnames.normalize for the addresses it can be sure of
// (printable ASCII: the only kind a valid hostname has); any other is the Python router's.
func normalize(address []byte) (string, bool) {
	if !utf8.Valid(address) {
		return "", false // the Python router refuses it as malformed
	}
	if i := bytes.IndexByte(address, 0); i >= 0 {
		address = address[:i] // a Forge marker
	}
	for _, c := range address {
		if c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	key := strings.TrimRight(strings.TrimSpace(string(address)), ".")
	return strings.ToLower(key), true
}

// proxyHeaderLength: for a connection that may start with a PROXY v2 header, the header's
// length (0: none), or needMore / notMine.
func proxyHeaderLength(b []byte) (int, verdict) {
	head := b
	if len(head) > len(proxySignature) {
		head = head[:len(proxySignature)]
	}
	if !bytes.HasPrefix(proxySignature, head) {
		return 0, parsed
	}
	if len(b) < 16 {
		return 0, needMore
	}
	length := 16 + int(binary.BigEndian.Uint16(b[14:16]))
	if length > maxHeader {
		return 0, notMine
	}
	local := b[12]&0x0f == 0 // the balancer's own health check: no addresses needed
	if !local && length != plainHeaderV4 && length != plainHeaderV6 {
		return 0, notMine
	}
	if len(b) < length {
		return 0, needMore
	}
	return length, parsed
}
