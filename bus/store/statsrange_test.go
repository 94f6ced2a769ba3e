package store

import (
	"slices"
	"testing"
)

// TestStatsRangeNamesEachMonth: the whole months of a range are named one
// by one (across a year's end), so that the query seeks each month's rows
// instead of walking every day row between the first and the last.
func TestStatsRangeNamesEachMonth(t *testing.T) {
	_, args := statsRange(20251115, 20260310, false)
	want := []any{20251115, 20251199, 20260300, 20260310, 20251200, 20260100, 20260200}
	if !slices.Equal(args, want) {
		t.Fatalf("args = %v, want %v", args, want)
	}
	if _, args = statsRange(20260101, 20261231, false); len(args) != 4+12 || args[4] != 20260100 || args[15] != 20261200 {
		t.Fatalf("a year: %v", args)
	}
	if _, args = statsRange(20260105, 20260120, false); len(args) != 2 {
		t.Fatalf("inside one month: %v", args)
	}
}
