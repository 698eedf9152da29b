package lab

// T is what the lab needs from its caller: *testing.T, *testing.B and every
// testing.TB satisfy it, and a program (the demo) can implement it too.
// Fatal, Fatalf and Skip must not return (testing's call runtime.Goexit; a
// program may panic and recover in main after running the cleanups).
// Cleanup functions run last-registered first, also after Fatal.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Failed() bool
	Cleanup(func())
	TempDir() string
}
