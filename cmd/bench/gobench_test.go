package main

import (
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
pkg: github.com/aloro/wa-senders/shared/webhook
BenchmarkFloorText-2            	   30000	     40000 ns/op	  12.4 MB/s	    4856 B/op	      96 allocs/op
BenchmarkFloorText-2            	   30000	     50000 ns/op	  12.4 MB/s	    4856 B/op	      96 allocs/op
BenchmarkPOSTText-2             	     100	  12000000 ns/op	  3010 cpu-µs/op	  148993 B/op	    1680 allocs/op
BenchmarkPOSTText-2             	     100	  20000000 ns/op	  3155 cpu-µs/op	  149383 B/op	    1681 allocs/op
BenchmarkPOSTTextNewCustomer-2  	     100	  14000000 ns/op	  214115 B/op	    2446 allocs/op
BenchmarkHandlerOnly/text-2     	   10000	     100000 ns/op	  16437 B/op	     142 allocs/op
BenchmarkFloorSDKRequest-2      	    1000	   1400000 ns/op
pkg: github.com/aloro/wa-senders/shared/whatsapp
BenchmarkParseText-2            	   30000	     36000 ns/op
BenchmarkFloorHMACPlusMapDecode/text-2	50000	     24000 ns/op
`

func TestParseBenchAndFloors(t *testing.T) {
	res := parseBench(strings.NewReader(sampleOutput))
	if len(res) != 7 {
		t.Fatalf("parsed %d benchmarks, want 7", len(res))
	}
	post := res[1]
	if post.Name != "BenchmarkPOSTText" || len(post.Samples["ns/op"]) != 2 || post.Samples["cpu-µs/op"][1] != 3155 {
		t.Fatalf("POSTText parsed as %+v", post)
	}
	got := map[string]string{}
	for _, p := range floorPairs(res) {
		got[p[0].Name] = p[1].Name
	}
	want := map[string]string{
		"BenchmarkPOSTText":         "BenchmarkFloorText",
		"BenchmarkHandlerOnly/text": "BenchmarkFloorText",
		"BenchmarkParseText":        "BenchmarkFloorHMACPlusMapDecode/text",
	}
	if len(got) != len(want) {
		t.Fatalf("pairs %v, want %v", got, want)
	}
	for b, f := range want {
		if got[b] != f {
			t.Errorf("%s paired with %q, want %q", b, got[b], f)
		}
	}
	if r := ratioStat(post.Samples["ns/op"], res[0].Samples["ns/op"]); r.Min != 300 || r.Max != 400 {
		t.Errorf("ratio %+v, want 300..400 (round by round)", r)
	}
}

func TestStatOf(t *testing.T) {
	if s := statOf([]float64{3, 1, 2}); s != (stat{1, 2, 3}) {
		t.Errorf("statOf = %+v", s)
	}
	if s := statOf([]float64{4, 1, 2, 3}); s.Med != 2.5 {
		t.Errorf("even median = %v", s.Med)
	}
}

func TestHeadlines(t *testing.T) {
	const out = `pkg: github.com/aloro/wa-senders/shared/webhook
BenchmarkFloorText-2              	   30000	     40000 ns/op	  40000 cpu-ns/op
BenchmarkFloorText-2              	   30000	     50000 ns/op	  50000 cpu-ns/op
BenchmarkPOSTText-2               	     100	   4000000 ns/op	  1.000 ddb-req/msg	  1.000 sqs-req/op
BenchmarkPOSTText-2               	     100	   5000000 ns/op	  1.000 ddb-req/msg	  1.000 sqs-req/op
BenchmarkHandlerOnly/text-2       	   10000	     90000 ns/op	  60000 cpu-ns/op
BenchmarkHandlerOnly/text-2       	   10000	     90000 ns/op	  60000 cpu-ns/op
BenchmarkFloorConditionalWrite-2  	    1000	   2000000 ns/op
BenchmarkFloorConditionalWrite-2  	    1000	   3000000 ns/op
`
	got := map[string]string{}
	for _, r := range headlineRows(parseBench(strings.NewReader(out))) {
		got[r[0]] = r[1]
	}
	want := map[string]string{
		headlines[0].label: "0.50 / 0.55 / 0.60", // 2/4 and 3/5, round by round
		headlines[1].label: "1.20 / 1.35 / 1.50",
		headlines[2].label: "1.00 / 1.00 / 1.00",
		headlines[3].label: "1.00 / 1.00 / 1.00",
	}
	if len(got) != len(want) {
		t.Fatalf("headlines %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
