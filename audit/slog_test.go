package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSlogSink(t *testing.T) {
	var buf bytes.Buffer
	s := NewSlogSink(slog.NewJSONHandler(&buf, nil))
	allow := fileTestEvent(1)
	deny := fileTestEvent(3)
	deny.UserAgent = "evil\r\nX-Injected: 1"
	mgmt := Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Action: "token.subject_revoked", Actor: "admin", KeyID: "k1", Subject: "user-7"}
	if err := s.Write(context.Background(), []Event{allow, deny}); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), []Event{mgmt}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d records, want 3:\n%s", len(lines), buf.String())
	}
	var recs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("record %q: %v", l, err)
		}
		recs = append(recs, m)
	}
	for i, m := range recs {
		if m["msg"] != "audit" || m["seq"] != float64(i+1) {
			t.Errorf("record %d: msg %v seq %v", i, m["msg"], m["seq"])
		}
	}
	if recs[0]["level"] != "INFO" || recs[1]["level"] != "WARN" || recs[2]["level"] != "INFO" {
		t.Errorf("levels %v %v %v", recs[0]["level"], recs[1]["level"], recs[2]["level"])
	}
	// Every non-empty field of the event's JSON form is there, under the
	// same name and with the same value.
	for i, e := range []Event{allow, deny, mgmt} {
		e.Seq = uint64(i + 1)
		b, _ := json.Marshal(e)
		var want map[string]any
		json.Unmarshal(b, &want)
		for k, v := range want {
			got, ok := recs[i][k]
			if !ok {
				t.Errorf("record %d lacks %q", i, k)
				continue
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(v)
			if !bytes.Equal(gb, wb) {
				t.Errorf("record %d %q = %s, want %s", i, k, gb, wb)
			}
		}
		for k := range recs[i] {
			if _, ok := want[k]; !ok && k != "level" && k != "msg" {
				t.Errorf("record %d has extra %q", i, k)
			}
		}
	}
	if _, ok := recs[2]["status"]; ok {
		t.Error("empty field logged")
	}
	if strings.Contains(buf.String(), "\r") || strings.Count(buf.String(), "\n") != 3 {
		t.Error("CR/LF not escaped")
	}

	// Levels the handler does not enable are not logged and use no Seq.
	buf.Reset()
	s = NewSlogSink(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := s.Write(context.Background(), []Event{allow, deny, allow, deny}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(buf.String(), "\n"); got != 2 || !strings.Contains(buf.String(), `"seq":2`) {
		t.Errorf("warn-only handler: %s", buf.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Write(ctx, []Event{allow}); err == nil {
		t.Error("cancelled context ignored")
	}
}
