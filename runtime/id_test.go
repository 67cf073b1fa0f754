package runtime

import "testing"

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "abc-123", "A.b_c+d", "x..y", "0"} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want ok", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", "a\x00", "ü", "/abs"} {
		if err := ValidateID(id); err == nil {
			t.Errorf("ValidateID(%q) accepted", id)
		}
	}
}
