// craftplane-router-fastpath: the Python router's data path, compiled. The Python router
// (craftplane_router.fastpath) binds the game port, starts this with the listening socket and
// a control socket (-listener-fd, -control-fd), and tells it the hostnames of running
// servers. This accepts every connection, reads its PROXY header (from a trusted balancer)
// and handshake, and splices a connection for a running server straight to its ClusterIP
// (splice(2) through Go's io.Copy: the bytes never enter user space). Every other connection
// (an unknown hostname, a sleeping server, a status ping the router answers, anything it
// cannot parse, a server it cannot reach) goes to the Python router with the bytes read so
// far, which does what it does with any connection. So the decisions stay in one place and
// this only ever forwards what the Python router would have forwarded.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	handshakeTimeout time.Duration
	connectTimeout   time.Duration
	idle             time.Duration
	grace            time.Duration
	maxConnections   int64
	trusted          []*net.IPNet
}

type fastpath struct {
	cfg      config
	control  *control
	routes   *table
	active   atomic.Int64
	sessions sync.WaitGroup
}

func main() {
	var cfg config
	var trust string
	var maxConns int
	flag.DurationVar(&cfg.handshakeTimeout, "handshake-timeout", 5*time.Second, "")
	flag.DurationVar(&cfg.connectTimeout, "connect-timeout", 3*time.Second, "")
	flag.DurationVar(&cfg.idle, "idle", 60*time.Second, "")
	flag.DurationVar(&cfg.grace, "grace", 10*time.Second, "on SIGTERM, how long sessions may go on")
	flag.IntVar(&maxConns, "max-connections", 4096, "")
	flag.StringVar(&trust, "accept-proxy-from", "", "comma-separated CIDRs")
	listenerFD := flag.Int("listener-fd", 3, "the listening game socket")
	controlFD := flag.Int("control-fd", 4, "the control socket (SOCK_SEQPACKET)")
	flag.Parse()
	cfg.maxConnections = int64(maxConns)
	for _, cidr := range strings.Split(trust, ",") {
		if cidr = strings.TrimSpace(cidr); cidr == "" {
			continue
		}
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			fail(fmt.Errorf("accept-proxy-from: %w", err))
		}
		cfg.trusted = append(cfg.trusted, network)
	}
	listener, err := net.FileListener(os.NewFile(uintptr(*listenerFD), "listener"))
	if err != nil {
		fail(fmt.Errorf("-listener-fd is not a listening socket: %w", err))
	}
	conn, err := net.FileConn(os.NewFile(uintptr(*controlFD), "control"))
	if err != nil {
		fail(fmt.Errorf("-control-fd is not the control socket: %w", err))
	}
	unix, ok := conn.(*net.UnixConn)
	if !ok {
		fail(errors.New("-control-fd is not a unix socket"))
	}
	f := &fastpath{cfg: cfg, control: newControl(unix), routes: &table{byHost: map[string]route{}}}
	f.run(listener.(*net.TCPListener))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "craftplane-router-fastpath:", err)
	os.Exit(2)
}

func (f *fastpath) run(listener *net.TCPListener) {
	gone := make(chan error, 1)
	go func() { gone <- f.control.receive(f.routes) }()
	go f.flushEvery(time.Second)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go f.accept(listener)
	select {
	case err := <-gone:
		// The Python router is gone (or spoke nonsense): nothing would count or hand off.
		if err != nil {
			fmt.Fprintln(os.Stderr, "craftplane-router-fastpath: control socket:", err)
		}
		os.Exit(1)
	case <-stop:
		listener.Close()
		done := make(chan struct{})
		go func() { f.sessions.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(f.cfg.grace):
		case <-gone:
		}
		f.control.flush(f.active.Load())
	}
}

func (f *fastpath) flushEvery(period time.Duration) {
	for range time.Tick(period) {
		if err := f.control.flush(f.active.Load()); err != nil {
			fmt.Fprintln(os.Stderr, "craftplane-router-fastpath: control socket:", err)
			os.Exit(1)
		}
	}
}

func (f *fastpath) accept(listener *net.TCPListener) {
	for {
		conn, err := listener.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(100 * time.Millisecond) // EMFILE and friends: pause rather than spin
			continue
		}
		if f.active.Load() >= f.cfg.maxConnections {
			conn.Close()
			f.control.overCapacity()
			continue
		}
		f.active.Add(1)
		f.sessions.Add(1)
		go func() {
			defer f.sessions.Done()
			defer f.active.Add(-1)
			f.serve(conn)
		}()
	}
}

func (f *fastpath) trusts(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	for _, network := range f.cfg.trusted {
		if network.Contains(tcp.IP) || (tcp.IP.To4() != nil && network.Contains(tcp.IP.To4())) {
			return true
		}
	}
	return false
}
