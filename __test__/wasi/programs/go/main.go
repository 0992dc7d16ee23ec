// A Go program for WASI preview 1 (GOOS=wasip1 GOARCH=wasm), run by the
// tests in __test__/wasi-go.spec.ts: Go's runtime brings its own scheduler,
// garbage collector and timers, all of which reach the host through WASI.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gotool <hello|workers|files|stdin|sleep|spin|alloc|exit> ...")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "hello":
		fmt.Printf("hello from Go, args %q, GREETING=%q\n", args, os.Getenv("GREETING"))
	case "workers":
		workers(number(args))
	case "files":
		files(args[0])
	case "stdin":
		upper()
	case "sleep":
		fmt.Println("sleeping")
		time.Sleep(time.Duration(number(args)) * time.Millisecond)
		fmt.Println("awake")
	case "spin":
		fmt.Println("spinning")
		for n := 0; ; n++ {
			if n < 0 {
				fmt.Println(n)
			}
		}
	case "alloc":
		alloc(number(args))
	case "exit":
		fmt.Println("bye")
		os.Exit(number(args))
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func number(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "expected one number")
		os.Exit(2)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return n
}

// workers starts n goroutines that each sleep a little and answer on a
// channel: Go's scheduler parks them in poll_oneoff.
func workers(n int) {
	answers := make(chan int)
	for i := 1; i <= n; i++ {
		go func(i int) {
			time.Sleep(time.Duration(i) * time.Millisecond)
			answers <- i * i
		}(i)
	}
	sum := 0
	for i := 0; i < n; i++ {
		sum += <-answers
	}
	fmt.Printf("%d workers, sum of squares %d\n", n, sum)
}

// files writes, reads back and lists a file under dir.
func files(dir string) {
	path := filepath.Join(dir, "from-go.txt")
	if err := os.WriteFile(path, []byte("written by Go\n"), 0o644); err != nil {
		fmt.Println("write failed:", err)
	}
	if data, err := os.ReadFile(path); err == nil {
		fmt.Print("read back: ", string(data))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Println("list failed:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(entries))
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	sort.Strings(names)
	fmt.Println("entries:", strings.Join(names, " "))
}

// upper copies standard input to standard output in capitals.
func upper() {
	data, err := io.ReadAll(bufio.NewReader(os.Stdin))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(strings.ToUpper(string(data)))
}

// alloc keeps mib MiB alive, touched, and says how far it got.
var kept [][]byte

func alloc(mib int) {
	for i := 0; i < mib; i++ {
		block := make([]byte, 1<<20)
		for j := range block {
			block[j] = byte(i)
		}
		kept = append(kept, block)
	}
	fmt.Printf("allocated %d MiB\n", mib)
}
