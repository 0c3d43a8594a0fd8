// testbox is a tiny static program that the sandbox tests package into a FROM-scratch image:
// it serves on :8080, prints to both streams, and can eat memory or exit on request.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	fmt.Println("testbox up")
	fmt.Fprintln(os.Stderr, "testbox stderr")
	var hog [][]byte
	http.HandleFunc("/eat", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			hog = append(hog, b)
		}
		fmt.Fprintf(w, "ate %d MB\n", len(hog))
	})
	http.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		f, err := os.Create(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		buf := make([]byte, 1<<20)
		for i := 0; i < mb; i++ {
			if _, err := f.Write(buf); err != nil {
				http.Error(w, err.Error(), 507)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, os.Getenv(r.URL.Query().Get("key")))
	})
	http.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		go func() { time.Sleep(10 * time.Millisecond); os.Exit(3) }()
	})
	_ = http.ListenAndServe(":8080", nil)
}
