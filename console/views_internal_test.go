package console

import "testing"

func TestLoadViews(t *testing.T) {
	v, err := loadViews("/console")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"signin.html", "error.html", "overview.html", "audit.html"} {
		if v.pages[name] == nil {
			t.Errorf("no page %s", name)
		}
	}
	if _, ok := v.assets["console.css"]; !ok {
		t.Error("no console.css")
	}
}
