// routerload: the load of `python -m bench router`, in Go so that the clients and the backend
// cost little CPU next to what they measure (the router's data path, or the kernel's).
//
//	routerload serve -listen HOST:PORT
//	    an echo backend: answers the first chunk (the handshake) with one byte, then echoes
//	routerload proxy -listen HOST:PORT -target HOST:PORT
//	    the least any proxy can cost: accepts, dials -target, and copies both ways with
//	    Go's io.Copy (splice(2) between TCP sockets); no handshake is read
//	routerload load -target HOST:PORT -host NAME -clients 100 -mib 64 -connects 2000 -rate 400
//	    phase 1: -connects connections, -clients at a time, each next one as soon as one
//	    ends: connections/s at saturation (and its latency, which is then mostly queueing);
//	    phase 2: -connects connections opened at -rate per second, at most -clients at once:
//	    connect latency (dial, send a Minecraft handshake naming NAME, wait for the byte)
//	    percentiles below saturation;
//	    phase 3: -clients connections each writing -mib MiB and reading its echo: MiB/s.
//	    Prints one JSON line.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"
)

// sockbuf: SO_RCVBUF/SO_SNDBUF of the load's own sockets (clients and echo), 0 for the
// kernel's autotuning. Bounded by default: a hundred clients autotuning towards this host's
// tcp_rmem maximum (32 MiB) beside the router's sockets push the kernel into TCP memory
// pressure (tcp_mem), which shrinks every window on every path and measures that instead.
var sockbuf = 1 << 20

func bounded(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok && sockbuf > 0 {
		tcp.SetReadBuffer(sockbuf)
		tcp.SetWriteBuffer(sockbuf)
	}
}

func varint(v int) []byte {
	buf := make([]byte, binary.MaxVarintLen32)
	n := binary.PutUvarint(buf, uint64(v))
	return buf[:n]
}

// handshake: a Java Edition handshake (protocol 769, next state 2 = login), framed.
func handshake(host string, port int) []byte {
	body := []byte{0x00}
	body = append(body, varint(769)...)
	body = append(body, varint(len(host))...)
	body = append(body, host...)
	body = append(body, byte(port>>8), byte(port))
	body = append(body, varint(2)...)
	return append(varint(len(body)), body...)
}

func listenOn(address string) net.Listener {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening", ln.Addr())
	return ln
}

func serve(listen string) {
	ln := listenOn(listen)
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			bounded(c)
			first := make([]byte, 4096)
			if _, err := c.Read(first); err != nil {
				return
			}
			if _, err := c.Write([]byte{1}); err != nil {
				return
			}
			io.Copy(c, c)
		}(conn)
	}
}

func proxy(listen, target string) {
	ln := listenOn(listen)
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c *net.TCPConn) {
			defer c.Close()
			s, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				return
			}
			server := s.(*net.TCPConn)
			defer server.Close()
			done := make(chan struct{}, 2)
			pipe := func(to, from *net.TCPConn) {
				io.Copy(to, from)
				to.CloseWrite()
				done <- struct{}{}
			}
			go pipe(server, c)
			go pipe(c, server)
			<-done
			<-done
		}(conn.(*net.TCPConn))
	}
}

func dial(target string, hello []byte) (net.Conn, time.Duration, error) {
	started := time.Now()
	conn, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return nil, 0, err
	}
	bounded(conn)
	if _, err := conn.Write(hello); err != nil {
		conn.Close()
		return nil, 0, err
	}
	one := make([]byte, 1)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(conn, one); err != nil {
		conn.Close()
		return nil, 0, err
	}
	conn.SetReadDeadline(time.Time{})
	return conn, time.Since(started), nil
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

type phase struct {
	latencies []float64
	errors    int
	seconds   float64
}

// connectPhase: -connects connections through -clients workers; with rate > 0 each is
// started on a clock (rate per second) rather than as soon as a worker is free.
func connectPhase(target string, hello []byte, clients, connects int, rate float64) phase {
	var mu sync.Mutex
	var out phase
	work := make(chan struct{}, clients)
	go func() {
		started := time.Now()
		for i := 0; i < connects; i++ {
			if rate > 0 {
				due := started.Add(time.Duration(float64(i) / rate * float64(time.Second)))
				time.Sleep(time.Until(due))
			}
			work <- struct{}{}
		}
		close(work)
	}()
	began := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				conn, took, err := dial(target, hello)
				mu.Lock()
				if err != nil {
					out.errors++
				} else {
					out.latencies = append(out.latencies, float64(took.Microseconds())/1000)
				}
				mu.Unlock()
				if conn != nil {
					conn.Close()
				}
			}
		}()
	}
	wg.Wait()
	out.seconds = time.Since(began).Seconds()
	sort.Float64s(out.latencies)
	return out
}

func load(target, host string, clients, mib, connects int, rate float64) {
	hello := handshake(host, 25565)
	var mu sync.Mutex
	saturated := connectPhase(target, hello, clients, connects, 0)
	paced := connectPhase(target, hello, clients, connects, rate)
	errors := saturated.errors + paced.errors
	var wg sync.WaitGroup

	chunk := make([]byte, 64*1024)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	total := int64(mib) * 1024 * 1024
	var moved int64
	started := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, _, err := dial(target, hello)
			if err != nil {
				mu.Lock()
				errors++
				mu.Unlock()
				return
			}
			defer conn.Close()
			done := make(chan int64)
			go func() {
				n, _ := io.CopyN(io.Discard, conn, total)
				done <- n
			}()
			for sent := int64(0); sent < total; sent += int64(len(chunk)) {
				if _, err := conn.Write(chunk); err != nil {
					break
				}
			}
			n := <-done
			mu.Lock()
			moved += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	seconds := time.Since(started).Seconds()
	out := map[string]any{
		"connects":         len(paced.latencies),
		"errors":           errors,
		"connects_per_s":   float64(len(saturated.latencies)) / saturated.seconds,
		"saturated_p99_ms": percentile(saturated.latencies, 0.99),
		"connect_rate":     rate,
		"connect_p50_ms":   percentile(paced.latencies, 0.50),
		"connect_p99_ms":   percentile(paced.latencies, 0.99),
		"mib_echoed":       float64(moved) / 1024 / 1024,
		"seconds":          seconds,
		"mib_per_s":        float64(moved) / 1024 / 1024 / seconds,
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: routerload serve|load ...")
		os.Exit(2)
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := flags.String("listen", "127.0.0.1:0", "serve: address to listen on")
	target := flags.String("target", "", "load: address to connect to")
	host := flags.String("host", "bench.example", "load: the handshake's server address")
	clients := flags.Int("clients", 100, "load: concurrent clients")
	mib := flags.Int("mib", 64, "load: MiB each client sends (and gets back)")
	connects := flags.Int("connects", 2000, "load: connections for each latency phase")
	rate := flags.Float64("rate", 400, "load: connections per second in the paced phase")
	flags.IntVar(&sockbuf, "sockbuf", sockbuf, "SO_RCVBUF/SO_SNDBUF of the load's sockets (0: autotuned)")
	flags.Parse(os.Args[2:])
	switch os.Args[1] {
	case "serve":
		serve(*listen)
	case "load":
		load(*target, *host, *clients, *mib, *connects, *rate)
	case "proxy":
		proxy(*listen, *target)
	default:
		fmt.Fprintln(os.Stderr, "usage: routerload serve|load|proxy ...")
		os.Exit(2)
	}
}
