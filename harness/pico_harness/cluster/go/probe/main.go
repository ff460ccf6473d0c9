// A network probe for tests on the real node (standard library only, static):
//
//	probe serve PORT                   TCP server: each connection gets "hello from HOSTNAME\n"
//	probe dial HOST:PORT [TIMEOUT]     resolve HOST (cluster DNS), connect, read one line;
//	                                   prints "resolved ..." and "ok ..." or "failed ...",
//	                                   exits 0 when the line was read, 1 otherwise
//	probe connect HOST:PORT [TIMEOUT]  resolve and open a TCP connection only (any server)
//	probe resolve NAME                 prints the addresses of NAME, exits 1 when none
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: probe serve PORT | dial|connect HOST:PORT [TIMEOUT] | resolve NAME")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2])
	case "dial", "connect":
		timeout := 5 * time.Second
		if len(os.Args) > 3 {
			if d, err := time.ParseDuration(os.Args[3]); err == nil {
				timeout = d
			}
		}
		os.Exit(dial(os.Args[2], timeout, os.Args[1] == "dial"))
	case "resolve":
		os.Exit(resolve(os.Args[2]))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

func serve(port string) {
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Println("listen failed:", err)
		os.Exit(1)
	}
	host, _ := os.Hostname()
	fmt.Println("serving on", ln.Addr())
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
		os.Exit(0)
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		fmt.Println("connection from", conn.RemoteAddr())
		fmt.Fprintf(conn, "hello from %s\n", host)
		conn.Close()
	}
}

func resolve(name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	if err != nil || len(addrs) == 0 {
		fmt.Println("resolve failed:", name, err)
		return 1
	}
	fmt.Println("resolved", name, strings.Join(addrs, ","))
	return 0
}

func dial(target string, timeout time.Duration, readLine bool) int {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		fmt.Println("failed: bad target", target, err)
		return 2
	}
	if net.ParseIP(host) == nil && resolve(host) != 0 {
		return 1
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), timeout)
	if err != nil {
		fmt.Println("failed:", err)
		return 1
	}
	defer conn.Close()
	if !readLine {
		fmt.Println("ok connected", conn.RemoteAddr())
		return 0
	}
	conn.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Println("failed: read:", err)
		return 1
	}
	fmt.Println("ok", strings.TrimSpace(line))
	return 0
}
