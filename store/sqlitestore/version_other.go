//go:build !unix

package sqlitestore

// mapWALIndex is not implemented here: the store has no version.
func mapWALIndex(string) *walIndex { return nil }
