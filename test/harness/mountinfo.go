package harness

import (
	"os"
	"strings"
)

// IsMounted reports whether dir is a mount point in this mount namespace.
func IsMounted(dir string) bool {
	for _, m := range Mounts() {
		if m == dir {
			return true
		}
	}
	return false
}

// Mounts lists the mount points of /proc/self/mountinfo, unescaped.
func Mounts() []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			out = append(out, unescapeOctal(f[4]))
		}
	}
	return out
}

// MountsUnder lists the mount points at or below dir.
func MountsUnder(dir string) []string {
	var out []string
	for _, m := range Mounts() {
		if m == dir || strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	return out
}

// unescapeOctal undoes the \ooo escapes of /proc mount tables.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
