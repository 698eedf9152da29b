package field

import (
	"errors"
	"fmt"
	"testing"
)

func TestInAndAll(t *testing.T) {
	err := In("service[0]", errors.Join(
		Errorf("check.receive", "needs type negotiate"),
		In("reals", In("[1]", Errorf("weight", "out of range"))),
		In("reals", Repeated("[2].address", "[0].address", "listed again")),
		fmt.Errorf("plain"),
	))
	var got []string
	for _, e := range All(err) {
		got = append(got, e.Error())
	}
	want := []string{"service[0].check.receive: needs type negotiate", "service[0].reals[1].weight: out of range", "service[0].reals[2].address: listed again (first at service[0].reals[0].address)", "service[0]: plain"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("All(In(...)) = %q, want %q", got, want)
	}
	if In("x", nil) != nil || All(nil) != nil {
		t.Error("In(x, nil) or All(nil) is not nil")
	}
	if got := Index("reals", 2); got != "reals[2]" {
		t.Errorf("Index(reals, 2) = %q, want reals[2]", got)
	}
}
