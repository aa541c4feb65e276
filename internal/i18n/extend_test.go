package i18n

import "testing"

func TestExtendRefusesADuplicateKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("extend accepted a key the catalogue already has")
		}
	}()
	extend(EN, map[string]string{"account.title": "again"})
}
