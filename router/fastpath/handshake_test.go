package main

import (
	"encoding/json"
	"os"
	"testing"
)

// The Python router's tests write cases (tests/unit/router/test_fastpath_parity.py) with
// what the Python router makes of each; the fast path may decline any of them, but what it
// parses must be what Python parses: the same routing key and handshake size.
type vector struct {
	Data []byte `json:"data"`
	Key  string `json:"key"`  // Python's routing key; "" when Python refuses it
	Size int    `json:"size"` // Python's handshake size
	More bool   `json:"more"` // Python needs more bytes
}

func TestAgreesWithPython(t *testing.T) {
	path := os.Getenv("CRAFTPLANE_HANDSHAKE_VECTORS")
	if path == "" {
		t.Skip("run by the Python router's tests, which write the vectors")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []vector
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		got, v := parseHandshake(c.Data)
		switch {
		case v == parsed && (c.More || c.Key == "" && c.Size == 0):
			t.Errorf("case %d %q: the fast path parsed %q, Python did not", i, c.Data, got.key)
		case v == parsed && (got.key != c.Key || got.size != c.Size):
			t.Errorf("case %d %q: key %q size %d, Python %q %d", i, c.Data, got.key, got.size, c.Key, c.Size)
		case v == needMore && !c.More:
			t.Errorf("case %d %q: the fast path waits for more, Python does not", i, c.Data)
		}
	}
}
