package connset

import (
	"slices"
	"testing"
)

func TestSet(t *testing.T) {
	var s Set[int]
	if !s.Add(1) || !s.Add(2) || !s.Add(3) {
		t.Fatal("Add on an open set refused")
	}
	s.Remove(2)
	var seen []int
	s.Each(func(c int) { seen = append(seen, c) })
	slices.Sort(seen)
	if !slices.Equal(seen, []int{1, 3}) {
		t.Errorf("Each saw %v, want [1 3]", seen)
	}
	empty := s.Empty()
	select {
	case <-empty:
		t.Fatal("Empty closed while the set is open")
	default:
	}
	got := s.Close()
	slices.Sort(got)
	if !slices.Equal(got, []int{1, 3}) {
		t.Errorf("Close returned %v, want [1 3]", got)
	}
	if s.Add(4) {
		t.Error("Add on a closed set accepted")
	}
	s.Remove(1)
	select {
	case <-empty:
		t.Fatal("Empty closed with a member left")
	default:
	}
	s.Remove(3)
	select {
	case <-empty:
	default:
		t.Fatal("Empty not closed once closed and empty")
	}
	select {
	case <-s.Empty():
	default:
		t.Fatal("a later Empty not closed")
	}
}

func TestEmptyAfterCloseOfEmptySet(t *testing.T) {
	var s Set[string]
	s.Close()
	select {
	case <-s.Empty():
	default:
		t.Fatal("Empty of a closed empty set not closed")
	}
}
