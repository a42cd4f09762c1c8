package setup

import (
	"fmt"
	"strings"
)

// UnifiedDiff returns the unified diff (three lines of context) that turns
// a into b, with fromName and toName in its header, or "" when they are
// equal. Lines are compared whole; a last line without a newline is marked
// the way diff(1) marks it.
//
// The files it is used on are small configuration files, so a plain
// longest-common-subsequence table is enough; past maxCells it gives up on
// finding common lines and shows the whole file replaced, which is still a
// correct diff.
func UnifiedDiff(fromName, toName, a, b string) string {
	if a == b {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	ops := diffOps(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", fromName, toName)
	const context = 3
	// Walk the edit script, grouping changes closer than 2*context into
	// one hunk.
	i := 0
	for i < len(ops) {
		// Find the next change.
		for i < len(ops) && ops[i].kind == ' ' {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(i-context, 0)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			// A run of equal lines: the hunk ends if it is long enough.
			j := end
			for j < len(ops) && ops[j].kind == ' ' {
				j++
			}
			if j == len(ops) || j-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = j
		}
		// Line numbers of the hunk in a and b.
		aStart, bStart := ops[start].ai, ops[start].bi
		aLen, bLen := 0, 0
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				aLen++
			}
			if op.kind != '-' {
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
		for _, op := range ops[start:end] {
			out.WriteByte(op.kind)
			out.WriteString(op.line)
			if !strings.HasSuffix(op.line, "\n") {
				out.WriteString("\n\\ No newline at end of file\n")
			}
		}
		i = end
	}
	return out.String()
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start) // the line before the empty range
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// splitLines splits s after each newline; the last line may lack one.
func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

type diffOp struct {
	kind   byte // ' ', '-' or '+'
	line   string
	ai, bi int // index of the line in a and b (for '+', ai is where it goes; for '-', bi likewise)
}

const maxCells = 4 << 20

// diffOps is an edit script from x to y through their longest common
// subsequence, after trimming the common prefix and suffix.
func diffOps(x, y []string) []diffOp {
	var ops []diffOp
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		ops = append(ops, diffOp{' ', x[pre], pre, pre})
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	xm, ym := x[pre:len(x)-suf], y[pre:len(y)-suf]
	n, m := len(xm), len(ym)
	if n*m > maxCells {
		for i, l := range xm {
			ops = append(ops, diffOp{'-', l, pre + i, pre})
		}
		for j, l := range ym {
			ops = append(ops, diffOp{'+', l, pre + n, pre + j})
		}
	} else {
		// lcs[i][j] is the LCS length of xm[i:] and ym[j:].
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if xm[i] == ym[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && xm[i] == ym[j]:
				ops = append(ops, diffOp{' ', xm[i], pre + i, pre + j})
				i++
				j++
			case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
				// Deletions before insertions, as diff(1) shows them.
				ops = append(ops, diffOp{'-', xm[i], pre + i, pre + j})
				i++
			default:
				ops = append(ops, diffOp{'+', ym[j], pre + i, pre + j})
				j++
			}
		}
	}
	for k := range suf {
		ops = append(ops, diffOp{' ', x[len(x)-suf+k], len(x) - suf + k, len(y) - suf + k})
	}
	return ops
}
