package envtest

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
)

// loopback is the only address the servers listen on.
const loopback = "127.0.0.1"

var (
	portsMu sync.Mutex
	// handedOut remembers the ports given to servers of this process, so that two
	// clusters starting at the same time never get the same port.
	handedOut = map[int]bool{}
)

// freePorts returns n distinct TCP ports that were free on 127.0.0.1 a moment ago and
// were not handed out before by this process.
func freePorts(n int) ([]int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100*n {
			return nil, fmt.Errorf("no free port found on %s", loopback)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return nil, fmt.Errorf("finding a free port on %s: %w", loopback, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if handedOut[port] {
			continue
		}
		handedOut[port] = true
		ports = append(ports, port)
	}
	return ports, nil
}

// loopbackURL is http://127.0.0.1:port.
func loopbackURL(port int) *url.URL {
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(loopback, strconv.Itoa(port))}
}
