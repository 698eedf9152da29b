package importer

import "strconv"

// uniqueNames hands out names no earlier take returned: the name itself
// when free, else stem-2, stem-3, ... (the first free one). Each stem
// remembers the suffix it reached, so a source with thousands of services
// on one port (http-80, http-80-2, ...) is named in linear time, not by
// counting up from 2 for every one of them.
type uniqueNames struct {
	used map[string]bool
	next map[string]int // stem -> the smallest suffix that may be free
}

func newUniqueNames() *uniqueNames {
	return &uniqueNames{used: map[string]bool{}, next: map[string]int{}}
}

func (u *uniqueNames) take(name, stem string) string {
	if u.used[name] {
		i := max(2, u.next[stem])
		for ; u.used[stem+"-"+strconv.Itoa(i)]; i++ {
		}
		name = stem + "-" + strconv.Itoa(i)
		u.next[stem] = i + 1
	}
	u.used[name] = true
	return name
}
