//go:build !include_oss

// Command v28registry needs -tags include_oss (see main.go); without the
// tag it only says so, so that `go build ./...` and `go vet ./...` of the
// test module stay quiet.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "v28registry: build with -tags include_oss")
	os.Exit(2)
}
