package main

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// The control socket (a SOCK_SEQPACKET pair with the Python router; one JSON object per
// message): routes come down, hand-offs (with the client's descriptor) and counts go up.

type route struct {
	Server  string `json:"server"`  // namespace/name, the metrics' labels
	Address string `json:"address"` // the Service's ClusterIP:port
	Proxy   bool   `json:"proxy"`   // send the server a PROXY v2 header
}

type routesMessage struct {
	Seq     int64            `json:"seq"` // acknowledged once applied
	Routes  map[string]route `json:"routes"`
	Removed []string         `json:"removed"`
}

type appliedMessage struct {
	Applied int64 `json:"applied"`
}

type table struct {
	mu     sync.RWMutex
	byHost map[string]route
}

func (t *table) lookup(key string) (route, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	r, ok := t.byHost[key]
	return r, ok
}

func (t *table) apply(m routesMessage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, host := range m.Removed {
		delete(t.byHost, host)
	}
	for host, r := range m.Routes {
		t.byHost[host] = r
	}
}

type counts struct {
	Routed   int64 `json:"routed"`
	ToServer int64 `json:"to_server"`
	ToClient int64 `json:"to_client"`
}

type statsMessage struct {
	Stats        map[string]*counts `json:"stats"`
	Active       int64              `json:"active"`
	OverCapacity int64              `json:"over_capacity"`
}

type handoffMessage struct {
	Handoff struct {
		Data   []byte  `json:"data"`   // every byte read from the client so far
		Waited float64 `json:"waited"` // seconds of the handshake timeout already spent
	} `json:"handoff"`
}

// A write to the control socket waits at most this long: a Python router that stalls
// longer loses a hand-off (that client is closed) or a second's counts, never the sessions.
const writeTimeout = 5 * time.Second

// Counts per stats message: a SOCK_SEQPACKET message must fit the socket's send buffer
// (about 200 KiB by default); a server's counts are about 100 bytes of JSON.
const serversPerMessage = 500

type control struct {
	conn    *net.UnixConn
	writeMu sync.Mutex // one writer at a time (a message is written whole)
	statsMu sync.Mutex // the counts, apart: a slow write never blocks a session's count
	stats   statsMessage
}

func newControl(conn *net.UnixConn) *control {
	return &control{conn: conn, stats: statsMessage{Stats: map[string]*counts{}}}
}

// handoff sends the client to the Python router, which owns it from now on; the fast path
// closes its own copy of the descriptor either way.
func (c *control) handoff(client *net.TCPConn, data []byte, waited time.Duration) error {
	defer client.Close()
	file, err := client.File()
	if err != nil {
		return err
	}
	defer file.Close()
	var m handoffMessage
	m.Handoff.Data, m.Handoff.Waited = data, waited.Seconds()
	return c.write(m, syscall.UnixRights(int(file.Fd())))
}

func (c *control) count(server string, add func(*counts)) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	found := c.stats.Stats[server]
	if found == nil {
		found = &counts{}
		c.stats.Stats[server] = found
	}
	add(found)
}

func (c *control) overCapacity() {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	c.stats.OverCapacity++
}

// flush sends what was counted since the last flush (and the open connections now), in
// messages of at most serversPerMessage servers. Counts a timed-out write could not send
// are dropped (the Python router was stalled); any other error is the socket's end.
func (c *control) flush(active int64) error {
	c.statsMu.Lock()
	taken := c.stats
	unchanged := len(taken.Stats) == 0 && taken.OverCapacity == 0 && taken.Active == active
	c.stats = statsMessage{Stats: map[string]*counts{}, Active: active}
	c.statsMu.Unlock()
	if unchanged {
		return nil
	}
	parts := []statsMessage{{Stats: map[string]*counts{}, Active: active, OverCapacity: taken.OverCapacity}}
	for server, counted := range taken.Stats {
		last := &parts[len(parts)-1]
		if len(last.Stats) >= serversPerMessage {
			parts = append(parts, statsMessage{Stats: map[string]*counts{}, Active: active})
			last = &parts[len(parts)-1]
		}
		last.Stats[server] = counted
	}
	for _, part := range parts {
		if err := c.send(part); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (c *control) send(m any) error {
	return c.write(m, nil)
}

// write sends one message whole (with descriptors in oob, for a hand-off).
func (c *control) write(m any, oob []byte) error {
	payload, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, _, err = c.conn.WriteMsgUnix(payload, oob, nil)
	return err
}

// receive applies route messages until the Python router closes its end.
func (c *control) receive(t *table) error {
	buf := make([]byte, 4<<20)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // the Python router is gone
		}
		var m routesMessage
		if err := json.Unmarshal(buf[:n], &m); err != nil {
			return err
		}
		t.apply(m)
		if err := c.send(appliedMessage{Applied: m.Seq}); err != nil {
			return err
		}
	}
}
