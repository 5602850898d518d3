//go:build !unix

package simbackend

// lockDir does nothing where flock is not available: the caller must make
// sure that only one simulator uses dir.
func lockDir(dir string) (func(), error) { return func() {}, nil }
