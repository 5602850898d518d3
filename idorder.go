package occi

// lessID reports whether a's type identifier (Scheme+Term) sorts before
// b's, byte by byte, as comparing a.String() and b.String() would, without
// building either string.
func lessID(a, b CategoryID) bool {
	return compareConcat(a.Scheme, a.Term, b.Scheme, b.Term) < 0
}

// compareConcat compares a1+a2 with b1+b2 byte by byte.
func compareConcat(a1, a2, b1, b2 string) int {
	la, lb := len(a1)+len(a2), len(b1)+len(b2)
	for i := 0; i < la && i < lb; i++ {
		var ca, cb byte
		if i < len(a1) {
			ca = a1[i]
		} else {
			ca = a2[i-len(a1)]
		}
		if i < len(b1) {
			cb = b1[i]
		} else {
			cb = b2[i-len(b1)]
		}
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case la < lb:
		return -1
	case la > lb:
		return 1
	}
	return 0
}
