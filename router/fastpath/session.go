package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// How often a session's byte counts are taken and its idleness looked at (the Python
// router's session.TICK_SECONDS); at most half the idle timeout, so that a direction still
// moving bytes has marked the session active before the other one judges it idle.
const tick = 10 * time.Second

// serve: forward the connection if it is a running server's, else hand it off.
func (f *fastpath) serve(client *net.TCPConn) {
	started := time.Now()
	trusted := f.trusts(client.RemoteAddr())
	data, source, dest, found, ok := f.preamble(client, trusted, started)
	if !ok {
		f.handoff(client, data, started)
		return
	}
	r, ok := f.routes.lookup(found.key)
	if !ok {
		f.handoff(client, data, started)
		return
	}
	replay := data[len(data)-len(found.replay):]
	if r.Proxy {
		// Built before dialling: one the library cannot encode (a mixed IPv4/IPv6 pair) is
		// the Python router's to send, which maps the IPv4 address.
		encoded, err := proxyproto.HeaderProxyFromAddrs(2, source, dest).Format()
		if err != nil {
			f.handoff(client, data, started)
			return
		}
		replay = append(encoded, replay...)
	}
	client.SetReadDeadline(time.Time{})
	server, err := net.DialTimeout("tcp", r.Address, f.cfg.connectTimeout)
	if err != nil {
		// The Python router tries again and, failing, tells the player why.
		f.handoff(client, data, started)
		return
	}
	defer client.Close()
	defer server.Close()
	if _, err := server.Write(replay); err != nil {
		return
	}
	f.control.count(r.Server, func(c *counts) { c.Routed++; c.ToServer += int64(len(found.replay)) })
	f.splice(client, server.(*net.TCPConn), r.Server)
}

func (f *fastpath) handoff(client *net.TCPConn, data []byte, started time.Time) {
	if err := f.control.handoff(client, data, time.Since(started)); err != nil {
		// The Python router is going away: closing is all that is left.
		client.Close()
	}
}

type preamble struct {
	key    string
	replay []byte // the handshake and what followed it (what the server is sent)
}

// preamble reads until the first bytes are a whole PROXY header (from a trusted peer) and
// handshake; ok false when they are not ones the fast path forwards. data: every byte read.
func (f *fastpath) preamble(
	client *net.TCPConn, trusted bool, started time.Time,
) (data []byte, source, dest net.Addr, found preamble, ok bool) {
	source, dest = client.RemoteAddr(), client.LocalAddr()
	client.SetReadDeadline(started.Add(f.cfg.handshakeTimeout))
	buf := make([]byte, 4096)
	for len(data) <= maxHeader+maxHandshake {
		n, err := client.Read(buf)
		data = append(data, buf[:n]...)
		start, v := proxyHeaderLength(data)
		if start > 0 && !trusted {
			v = notMine // a PROXY header from a peer that may not send one: refused there
		}
		if v == parsed && start > 0 {
			header, err := proxyproto.Read(bufio.NewReader(bytes.NewReader(data[:start])))
			if err != nil || header.Version != 2 {
				return data, nil, nil, preamble{}, false
			}
			if header.Command.IsProxy() {
				src, dst, isTCP := header.TCPAddrs()
				if !isTCP {
					return data, nil, nil, preamble{}, false
				}
				source, dest = src, dst
			}
		}
		if v == parsed {
			hs, hv := parseHandshake(data[start:])
			switch hv {
			case parsed:
				return data, source, dest, preamble{key: hs.key, replay: data[start:]}, true
			case notMine:
				return data, nil, nil, preamble{}, false
			}
		}
		if v == notMine || err != nil {
			return data, nil, nil, preamble{}, false
		}
	}
	return data, nil, nil, preamble{}, false
}

// splice copies both ways until both have ended (EOF each way, a half-close passed on),
// either fails, or nothing has moved either way for the idle timeout.
func (f *fastpath) splice(client, server *net.TCPConn, name string) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan error, 2)
	go func() {
		done <- f.copy(server, client, &last, func(n int64) {
			f.control.count(name, func(c *counts) { c.ToServer += n })
		})
	}()
	go func() {
		done <- f.copy(client, server, &last, func(n int64) {
			f.control.count(name, func(c *counts) { c.ToClient += n })
		})
	}()
	watch := time.NewTicker(f.period())
	defer watch.Stop()
	for ended := 0; ended < 2; {
		select {
		case err := <-done:
			if err != nil {
				return // the deferred closes end the other direction too
			}
			ended++
		case <-watch.C:
			if time.Since(time.Unix(0, last.Load())) >= f.cfg.idle {
				// Closing both ends the copies, a write blocked on a client that reads
				// nothing included (a write deadline would lose what splice holds).
				client.Close()
				server.Close()
			}
		}
	}
}

// period: how often a copy takes its counts and the session looks at its idleness.
func (f *fastpath) period() time.Duration {
	return min(tick, f.cfg.idle/2)
}

// copy: from -> to until EOF. A read deadline each period lets the count (and the idle
// clock) move while bytes flow; a read that timed out moved nothing, so nothing is lost.
func (f *fastpath) copy(to, from *net.TCPConn, last *atomic.Int64, moved func(int64)) error {
	for {
		from.SetReadDeadline(time.Now().Add(f.period()))
		n, err := io.Copy(to, from) // splice(2) between two TCP sockets
		if n > 0 {
			last.Store(time.Now().UnixNano())
			moved(n)
		}
		switch {
		case err == nil: // EOF
			to.CloseWrite()
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		default:
			return err
		}
	}
}
