package admin

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMaxGrace: the limit checkGrace applies, its message and the OpenAPI
// document's maximum agree with MaxGrace.
func TestMaxGrace(t *testing.T) {
	max := int64(MaxGrace / time.Second)
	fe := fieldErrors{}
	if got := checkGrace(fe, &max); got != MaxGrace || len(fe) != 0 {
		t.Errorf("checkGrace(%d) = %v, %v; want %v and no error", max, got, fe, MaxGrace)
	}
	over := max + 1
	fe = fieldErrors{}
	if got := checkGrace(fe, &over); got != 0 || len(fe) != 1 {
		t.Errorf("checkGrace(%d) = %v, %v; want 0 and an error", over, got, fe)
	}
	if s := strconv.FormatInt(max, 10); !strings.Contains(msgGrace, s) {
		t.Errorf("msgGrace %q does not name the maximum %s", msgGrace, s)
	}

	var doc struct {
		Components struct {
			Schemas struct {
				Rotate struct {
					Properties struct {
						Grace struct {
							Maximum *int64 `json:"maximum"`
						} `json:"grace_seconds"`
					} `json:"properties"`
				} `json:"Rotate"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	switch got := doc.Components.Schemas.Rotate.Properties.Grace.Maximum; {
	case got == nil:
		t.Errorf("openapi.json: Rotate.grace_seconds has no maximum, want %d", max)
	case *got != max:
		t.Errorf("openapi.json: Rotate.grace_seconds maximum = %d, want %d", *got, max)
	}
}
