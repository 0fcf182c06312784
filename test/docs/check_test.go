package docs

import (
	"fmt"
	"regexp"
	"strings"
)

// finding is a name in a page that the code does not have.
type finding struct {
	line int
	what string // command, flag, condition, reason, event, field
	name string
	msg  string
}

func (f finding) String() string {
	return fmt.Sprintf("line %d: %s %q: %s", f.line, f.what, f.name, f.msg)
}

// category of a code span: what the words around it say it names.
type category int

const (
	none category = iota
	condition
	reason
	event
)

var (
	// span is a code span; in a paragraph it may go on over a line break.
	span = regexp.MustCompile("`([^`]+)`")
	// gitfleetCmd is a command line: "gitfleet WORD ..." at the start of a code span or of
	// a line of a code block (after an optional "$ ").
	gitfleetCmd = regexp.MustCompile(`^(?:\$\s+)?gitfleet\s+(-?-?[A-Za-z][A-Za-z0-9-]*)(\s.*)?$`)
	// programCmd is "gitfleet-hub [flags]" or "gitfleet-agent [flags]".
	programCmd = regexp.MustCompile(`^(?:\$\s+)?(gitfleet-hub|gitfleet-agent)(\s.*)?$`)
	flagToken  = regexp.MustCompile(`^[\[(]*--?([A-Za-z][A-Za-z0-9-]*)`)
	// status is "Type=True" and the like.
	conditionStatus = regexp.MustCompile(`^([A-Za-z]+)=(True|False|Unknown)$`)
	// fieldPath is "spec.a.b", "status.x[].y" or "Kind.spec.a", not after a dot or a word
	// (".spec.replicas" is a path in any object, e.g. a Deployment).
	fieldPath = regexp.MustCompile(`(?:^|[^.\w/-])(?:([A-Z][A-Za-z]+)\.)?((?:spec|status)(?:\.[A-Za-z][A-Za-z0-9]*(?:\[[^\]]*\])*)+)`)
	listMark  = regexp.MustCompile(`\[[^\]]*\]`)
	listItem  = regexp.MustCompile(`^(?:[-*+]|\d+\.)\s`)
	// keyword before a span, the nearest one ("reason `X`", "conditions `A`, `B` and `C`",
	// "events (`X`", "the `Scheduled` condition of the placement is `X`"), at most 5
	// words before it.
	keywordBefore = regexp.MustCompile(`(?is)^.*\b(conditions?|reasons?|events?)\b((?:\s+[\w'/=-]+){0,5}?)[\s(]*$`)
	// conditionVerb after "condition": what follows is its reason ("the X condition says
	// `R`"; "is `False`" is a status, which is not checked).
	conditionVerb = regexp.MustCompile(`(?i)\b(is|are|says?|has|with)\b`)
	keywordAfter  = regexp.MustCompile(`(?i)^\s+(conditions?|reasons?|events?)\b`)
	// listGlue between two spans of one list.
	listGlue = regexp.MustCompile(`^\s*(?:,|/|\bor\b|\band\b|,\s*and\b|,\s*or\b)\s*$`)
	// sentenceEnd stops a keyword from reaching the next span.
	sentenceEnd = regexp.MustCompile(`[.;:!?]\s`)
)

func keywordCategory(word string) category {
	switch w := strings.ToLower(word); {
	case strings.HasPrefix(w, "condition"):
		return condition
	case strings.HasPrefix(w, "reason"):
		return reason
	case strings.HasPrefix(w, "event"):
		return event
	}
	return none
}

// checkPage returns the names in a page that v does not have.
func checkPage(content string, v *vocabulary) []finding {
	var out []finding
	lines := strings.Split(content, "\n")
	inFence := false
	var header []category  // the columns of the current table
	var headerCtx []string // the program each column of the current table is about
	var para []string      // the current paragraph's lines
	paraStart := 0
	blockCtx := "" // the command of the code block's last command line, for flag lines
	flush := func() {
		if len(para) > 0 {
			f, _ := checkProse(strings.Join(para, "\n"), paraStart, nil, "", v)
			out = append(out, f...)
		}
		para = nil
	}
	for i, line := range lines {
		n := i + 1
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			flush()
			inFence, blockCtx = !inFence, ""
			continue
		}
		if inFence {
			line := stripComment(trimmed)
			f, ctx := checkCommandLine(line, n, v)
			out = append(out, f...)
			switch {
			case ctx != "":
				blockCtx = ctx
			case strings.HasPrefix(line, "-") && blockCtx != "":
				// "  --work-dir DIR   Git checkouts", under "gitfleet-agent [flags]"
				out = append(out, checkFlags(blockCtx, line, n, v)...)
			default:
				blockCtx = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "|") {
			flush()
			cells := splitRow(trimmed)
			switch {
			case i+1 < len(lines) && isSeparator(strings.TrimSpace(lines[i+1])):
				header, headerCtx = columnCategories(cells)
			case isSeparator(trimmed):
			default:
				out = append(out, checkRow(cells, n, header, headerCtx, v)...)
			}
			continue
		}
		header = nil
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			flush()
			if trimmed != "" {
				f, _ := checkProse(trimmed, n, nil, "", v)
				out = append(out, f...)
			}
			continue
		}
		if listItem.MatchString(trimmed) {
			flush() // a list item is a paragraph of its own
		}
		if len(para) == 0 {
			paraStart = n
		}
		para = append(para, line)
	}
	flush()
	return out
}

// stripComment drops a shell comment from a line of a code block.
func stripComment(line string) string {
	if i := strings.Index(line, " #"); i >= 0 {
		return line[:i]
	}
	return line
}

// splitRow splits a table row into its cells ("\|" is not a separator).
func splitRow(row string) []string {
	row = strings.TrimPrefix(strings.TrimSuffix(row, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case row[i] == '|':
			cells = append(cells, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(cells, cur.String())
}

func isSeparator(row string) bool {
	return strings.HasPrefix(row, "|") && strings.Trim(row, "|-: ") == ""
}

// columnCategories reads a table header: a column headed "Reason" (but not the scheduler's
// free-text "Reason starts with") holds reasons, "Condition ..." or "Type" next to a
// "Polarity" column holds condition types; a column headed `gitfleet-hub` or
// `gitfleet-agent` is about that program's flags.
func columnCategories(cells []string) ([]category, []string) {
	polarity := false
	for _, c := range cells {
		if strings.EqualFold(strings.TrimSpace(c), "Polarity") {
			polarity = true
		}
	}
	cats, ctxs := make([]category, len(cells)), make([]string, len(cells))
	for i, c := range cells {
		if m := programCmd.FindStringSubmatch(strings.Trim(strings.TrimSpace(c), "`")); m != nil && m[2] == "" {
			ctxs[i] = m[1]
		}
		h := strings.ToLower(strings.TrimSpace(span.ReplaceAllString(c, "")))
		switch {
		case strings.Contains(h, "starts with") || strings.Contains(h, "start of"):
		case strings.Contains(h, "reason"):
			cats[i] = reason
		case strings.HasPrefix(h, "condition") || (h == "type" && polarity):
			cats[i] = condition
		}
	}
	return cats, ctxs
}

// checkRow checks the cells of a table row, each as prose, in the categories and program
// contexts of their columns; a program named in a cell is the context of the cells after it.
func checkRow(cells []string, line int, header []category, headerCtx []string, v *vocabulary) []finding {
	var out []finding
	ctx := ""
	for i, c := range cells {
		col := none
		if i < len(header) {
			col = header[i]
		}
		cellCtx := ctx
		if i < len(headerCtx) && headerCtx[i] != "" {
			cellCtx = headerCtx[i]
		}
		f, last := checkProse(c, line, &col, cellCtx, v)
		out = append(out, f...)
		if last != cellCtx {
			ctx = last
		}
	}
	return out
}

// checkProse checks the code spans of a paragraph (or a table cell): commands and flags,
// conditions, reasons and events by the words around them, and field paths. column, when
// not none, is the category of the first plain word span of a table cell; ctx is the
// command whose flags the spans name until a span names another. It returns the
// findings and the last command context.
func checkProse(text string, line int, column *category, ctx string, v *vocabulary) ([]finding, string) {
	var out []finding
	locs := span.FindAllStringSubmatchIndex(text, -1)
	prev := none // the category of the previous span, for lists
	prevEnd := 0 // where the previous span ended
	leading := column != nil && strings.HasPrefix(strings.TrimSpace(text), "`")
	for k, loc := range locs {
		s := strings.Join(strings.Fields(text[loc[2]:loc[3]]), " ")
		ln := line + strings.Count(text[:loc[0]], "\n")
		before := text[prevEnd:loc[0]]
		after := text[loc[1]:]
		if k+1 < len(locs) {
			after = text[loc[1]:locs[k+1][0]]
		}
		prevEnd = loc[1]

		if f, c := checkCommandLine(s, ln, v); c != "" || len(f) > 0 {
			out = append(out, f...)
			if c != "" {
				ctx = c
			}
			prev = none
			continue
		}
		if strings.HasPrefix(s, "-") && ctx != "" {
			out = append(out, checkFlags(ctx, s, ln, v)...)
			continue
		}
		for _, m := range fieldPath.FindAllStringSubmatch(s, -1) {
			if f := checkField(m[1], m[2], v); f != "" {
				out = append(out, finding{ln, "field", strings.TrimPrefix(m[1]+"."+m[2], "."), f})
			}
		}
		if m := conditionStatus.FindStringSubmatch(s); m != nil {
			if !v.conditions[m[1]] {
				out = append(out, finding{ln, "condition", m[1], "no code sets a condition of this type"})
			}
			prev = reason // "`Ready=False`, `NotEnoughClusters`", "`Drifted=True` (`DriftDetected`)"
			continue
		}
		if !camelWord.MatchString(s) || s == "True" || s == "False" || s == "Unknown" {
			prev = none
			continue
		}
		cat := none
		switch {
		case prev != none && listGlue.MatchString(before):
			cat = prev
		case keywordAfter.MatchString(after):
			cat = keywordCategory(keywordAfter.FindStringSubmatch(after)[1])
		case keywordBefore.MatchString(before):
			m := keywordBefore.FindStringSubmatchIndex(before)
			if sentenceEnd.MatchString(before[m[2]:]) {
				break
			}
			cat = keywordCategory(before[m[2]:m[3]])
			if cat == condition && conditionVerb.MatchString(before[m[4]:m[5]]) {
				cat = reason
			}
		case k == 0 && leading:
			// The first span of a table cell takes its column's category.
			cat = *column
		}
		prev = cat
		if f := checkWord(cat, s, v); f != "" {
			out = append(out, finding{ln, catName(cat), s, f})
		}
	}
	return out, ctx
}

func catName(c category) string {
	return [...]string{"word", "condition", "reason", "event"}[c]
}

// checkWord checks one plain-word span of a category.
func checkWord(cat category, s string, v *vocabulary) string {
	switch cat {
	case condition:
		if !v.conditions[s] {
			return "no code sets a condition of this type"
		}
	case reason:
		if !v.reasons[s] && !v.events[s] {
			return "no code sets this reason"
		}
	case event:
		if !v.events[s] {
			return "no code records an event with this reason"
		}
	}
	return ""
}

// checkField checks a field path, of the named kind or, without one, of any kind.
func checkField(kind, path string, v *vocabulary) string {
	p := listMark.ReplaceAllString(path, "")
	if kind != "" {
		fs, ok := v.kinds[kind]
		if !ok {
			return "" // not a gitfleet kind (e.g. Deployment.spec.replicas)
		}
		if !fs.has(p) {
			return fmt.Sprintf("%s has no field %s (see docs/api/reference.md)", kind, path)
		}
		return ""
	}
	for _, fs := range v.kinds {
		if fs.has(p) {
			return ""
		}
	}
	return fmt.Sprintf("no kind has a field %s (see docs/api/reference.md)", path)
}

// checkCommandLine checks a command line: "gitfleet CMD [flags]", where CMD must be a
// command and every flag one of its flags, or "gitfleet-hub [flags]" / "gitfleet-agent
// [flags]". Placeholders (gitfleet COMMAND) pass. It returns the findings and the command
// context ("promote", "gitfleet-hub"; "" for a line that is no such command).
func checkCommandLine(line string, n int, v *vocabulary) ([]finding, string) {
	if m := programCmd.FindStringSubmatch(line); m != nil {
		return checkFlags(m[1], m[2], n, v), m[1]
	}
	m := gitfleetCmd.FindStringSubmatch(line)
	if m == nil {
		return nil, ""
	}
	cmd, rest := m[1], m[2]
	if strings.HasPrefix(cmd, "-") || strings.ToUpper(cmd) == cmd {
		return nil, "" // gitfleet -h, gitfleet COMMAND
	}
	if _, ok := v.commands[cmd]; !ok {
		return []finding{{n, "command", "gitfleet " + cmd, "gitfleet has no such command (see docs/cli.md)"}}, ""
	}
	return checkFlags(cmd, rest, n, v), cmd
}

// checkFlags checks every flag in a command line's text against the flags of ctx (a
// gitfleet command, or gitfleet-hub / gitfleet-agent).
func checkFlags(ctx, text string, n int, v *vocabulary) []finding {
	flags, name, where := v.programs[ctx], ctx, "cmd/"+ctx
	if flags == nil {
		flags, name, where = v.commands[ctx], "gitfleet "+ctx, "docs/cli.md"
	}
	var out []finding
	for _, tok := range strings.Fields(text) {
		if !strings.HasPrefix(strings.TrimLeft(tok, "[("), "-") {
			continue
		}
		fm := flagToken.FindStringSubmatch(tok)
		if fm == nil || fm[1] == "h" || fm[1] == "help" {
			continue
		}
		if !flags[fm[1]] {
			out = append(out, finding{n, "flag", strings.TrimRight(tok, ",;.)]"), fmt.Sprintf("%s has no flag -%s (see %s)", name, fm[1], where)})
		}
	}
	return out
}
