package docs

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// root is the repository, seen from this package.
const root = "../.."

// vocabulary is what the docs may name: the real commands and flags, condition types,
// reasons, event reasons and API fields.
type vocabulary struct {
	// commands: gitfleet subcommand → its flags (without dashes).
	commands map[string]map[string]bool
	// programs: gitfleet-hub and gitfleet-agent → their flags.
	programs map[string]map[string]bool
	// conditions: condition types the code sets.
	conditions map[string]bool
	// reasons: condition reasons the code sets.
	reasons map[string]bool
	// events: event reasons the code records (condition reasons included: the agent
	// records events with its conditions' reasons).
	events map[string]bool
	// kinds: the CRDs' kinds → their schema, flattened.
	kinds map[string]*fieldSet
}

// fieldSet is the field paths of one kind, without list markers ("spec.stages.name").
type fieldSet struct {
	// paths that exist.
	paths map[string]bool
	// open paths take any field below them (maps, preserved unknown fields).
	open map[string]bool
}

// has reports whether a field path (list markers already removed) exists in the schema.
func (f *fieldSet) has(path string) bool {
	if f.paths[path] {
		return true
	}
	for p := path; strings.Contains(p, "."); {
		p = p[:strings.LastIndex(p, ".")]
		if f.open[p] {
			return true
		}
	}
	return false
}

// loadVocabulary reads the vocabulary from the repository: the CLI's commands and flags
// from docs/cli.md (generated from the CLI's help output and kept fresh by
// cmd/gitfleet's TestCLIReference), condition types and reasons from the Go constants
// that code outside their declaration uses, event reasons from the event calls, and the
// fields from the CRDs.
func loadVocabulary(repo string) (*vocabulary, error) {
	v := &vocabulary{}
	var err error
	if v.commands, err = loadCommands(filepath.Join(repo, "docs", "cli.md")); err != nil {
		return nil, err
	}
	if v.programs, err = loadProgramFlags(repo); err != nil {
		return nil, err
	}
	if err := v.loadGoNames(repo); err != nil {
		return nil, err
	}
	if v.kinds, err = loadKinds(filepath.Join(repo, "config", "crd", "bases")); err != nil {
		return nil, err
	}
	return v, nil
}

var (
	cliSection = regexp.MustCompile("^## gitfleet ([a-z][a-z0-9-]*)$")
	cliFlag    = regexp.MustCompile(`^  -([A-Za-z0-9][A-Za-z0-9-]*)(?: |$)`)
)

// loadCommands parses docs/cli.md: a "## gitfleet CMD" section per command, whose help
// output lists the flags as Go's flag package prints them ("  -name type").
func loadCommands(file string) (map[string]map[string]bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%w (generate it: go test ./cmd/gitfleet -run TestCLIReference -update)", err)
	}
	defer func() { _ = f.Close() }()
	cmds := map[string]map[string]bool{}
	var cur map[string]bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := cliSection.FindStringSubmatch(line); m != nil {
			cur = map[string]bool{}
			cmds[m[1]] = cur
			continue
		}
		if m := cliFlag.FindStringSubmatch(line); m != nil && cur != nil {
			cur[m[1]] = true
		}
	}
	if len(cmds) == 0 {
		return nil, fmt.Errorf("%s lists no command", file)
	}
	return cmds, sc.Err()
}

// loadProgramFlags reads the flags of gitfleet-hub and gitfleet-agent from their main
// packages: every flag.X / flag.XVar call with a literal name, controller-runtime's zap
// flags where its Options.BindFlags is called (read from controller-runtime's own source),
// and its --kubeconfig, which sigs.k8s.io/controller-runtime/pkg/client/config registers
// on the command line in init.
func loadProgramFlags(repo string) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	for _, prog := range []string{"gitfleet-hub", "gitfleet-agent"} {
		flags, bind, err := flagNames(filepath.Join(repo, "cmd", prog))
		if err != nil {
			return nil, err
		}
		if len(flags) == 0 {
			return nil, fmt.Errorf("cmd/%s defines no flag", prog)
		}
		if bind {
			dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/controller-runtime").Output()
			if err != nil {
				return nil, fmt.Errorf("finding controller-runtime's source: %w", err)
			}
			zapFlags, _, err := flagNames(filepath.Join(strings.TrimSpace(string(dir)), "pkg", "log", "zap"))
			if err != nil {
				return nil, err
			}
			for f := range zapFlags {
				flags[f] = true
			}
		}
		flags["kubeconfig"] = true
		out[prog] = flags
	}
	return out, nil
}

// flagDefs are the flag package's functions that define a flag, and where the name is.
var flagDefs = map[string]int{
	"String": 0, "Bool": 0, "Int": 0, "Int64": 0, "Uint": 0, "Uint64": 0, "Float64": 0, "Duration": 0, "Func": 0, "BoolFunc": 0,
	"StringVar": 1, "BoolVar": 1, "IntVar": 1, "Int64Var": 1, "UintVar": 1, "Uint64Var": 1, "Float64Var": 1, "DurationVar": 1, "Var": 1, "TextVar": 1,
}

// flagNames returns the names of the flags the non-test Go files of a folder define, and
// whether they call a BindFlags method.
func flagNames(dir string) (map[string]bool, bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, false, err
	}
	flags, bind := map[string]bool{}, false
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			return nil, false, err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if sel.Sel.Name == "BindFlags" {
				bind = true
			}
			i, ok := flagDefs[sel.Sel.Name]
			if !ok || i >= len(call.Args) {
				return true
			}
			if lit, ok := call.Args[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if name, err := strconv.Unquote(lit.Value); err == nil {
					flags[name] = true
				}
			}
			return true
		})
	}
	return flags, bind, nil
}

// goConst is a string constant of the code.
type goConst struct {
	name, value, typ, file string
}

// loadGoNames reads the condition types (constants named *Condition), reasons (*Reason,
// and the Promotion phases, which the hub writes as the reason of a Promotion's Ready),
// and event reasons from the non-test Go files of the module outside test/. A constant
// counts only when some code uses it besides its declaration.
func (v *vocabulary) loadGoNames(repo string) error {
	v.conditions, v.reasons, v.events = map[string]bool{}, map[string]bool{}, map[string]bool{}
	var consts []goConst
	uses := map[string]int{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, path)
		if d.IsDir() {
			if rel == "test" || rel == "bin" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		countIdents(src, uses)
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		consts = append(consts, stringConsts(f, rel)...)
		v.addEventReasons(f)
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range consts {
		if uses[c.name] < 2 { // the declaration is one use
			continue
		}
		switch {
		case strings.HasSuffix(c.name, "Condition"):
			v.conditions[c.value] = true
		case strings.HasSuffix(c.name, "Reason"), c.typ == "PromotionPhase":
			v.reasons[c.value] = true
			v.events[c.value] = true
		}
	}
	if len(v.conditions) == 0 || len(v.reasons) == 0 {
		return fmt.Errorf("no condition types or reasons found under %s", repo)
	}
	return nil
}

// countIdents counts every identifier of a Go file (comments are not tokens).
func countIdents(src []byte, uses map[string]int) {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", fset.Base(), len(src)), src, nil, 0)
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return
		}
		if tok == token.IDENT {
			uses[lit]++
		}
	}
}

// stringConsts returns a file's constants whose value is a string literal, or a constant
// of fluxcd's meta package (meta.ReadyCondition is "Ready": its name without the suffix).
func stringConsts(f *ast.File, file string) []goConst {
	var out []goConst
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			typ := ""
			if id, ok := vs.Type.(*ast.Ident); ok {
				typ = id.Name
			}
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				var value string
				switch e := vs.Values[i].(type) {
				case *ast.BasicLit:
					if e.Kind != token.STRING {
						continue
					}
					value, _ = strconv.Unquote(e.Value)
				case *ast.SelectorExpr:
					if x, ok := e.X.(*ast.Ident); !ok || x.Name != "meta" {
						continue
					}
					value = strings.TrimSuffix(strings.TrimSuffix(e.Sel.Name, "Condition"), "Reason")
				default:
					continue
				}
				out = append(out, goConst{name: name.Name, value: value, typ: typ, file: file})
			}
		}
	}
	return out
}

var camelWord = regexp.MustCompile(`^[A-Z][a-z]+(?:[A-Z][a-z0-9]*)*$`)

// addEventReasons collects the string literals passed to event-recording calls
// (r.event, Recorder.Eventf, Recorder.Event) that look like reasons.
func (v *vocabulary) addEventReasons(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "event" && sel.Sel.Name != "Eventf" && sel.Sel.Name != "Event") {
			return true
		}
		for _, a := range call.Args {
			if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && camelWord.MatchString(s) && s != "Normal" && s != "Warning" {
					v.events[s] = true
				}
			}
		}
		return true
	})
}

// loadKinds reads every CRD of a folder.
func loadKinds(dir string) (map[string]*fieldSet, error) {
	crds, err := readCRDs(dir)
	if err != nil {
		return nil, err
	}
	kinds := map[string]*fieldSet{}
	for _, crd := range crds {
		fs := &fieldSet{paths: map[string]bool{}, open: map[string]bool{}}
		schema := servedSchema(crd)
		if schema == nil {
			return nil, fmt.Errorf("CRD %s has no schema", crd.Name)
		}
		walkSchema("", *schema, func(path string, p apiextensionsv1.JSONSchemaProps) {
			path = strings.ReplaceAll(path, "[]", "")
			fs.paths[path] = true
			if isOpen(p) {
				fs.open[path] = true
			}
		})
		kinds[crd.Spec.Names.Kind] = fs
	}
	return kinds, nil
}

// isOpen reports whether a schema node takes fields that are not listed: a map, or an
// object whose unknown fields are preserved.
func isOpen(p apiextensionsv1.JSONSchemaProps) bool {
	if p.AdditionalProperties != nil && (p.AdditionalProperties.Allows || p.AdditionalProperties.Schema != nil) {
		return true
	}
	return p.XPreserveUnknownFields != nil && *p.XPreserveUnknownFields
}

// readCRDs parses the CRD files of a folder, sorted by kind.
func readCRDs(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, crd)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CRD in %s", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Names.Kind < out[j].Spec.Names.Kind })
	return out, nil
}

// servedSchema is the schema of the storage version.
func servedSchema(crd *apiextensionsv1.CustomResourceDefinition) *apiextensionsv1.JSONSchemaProps {
	for _, ver := range crd.Spec.Versions {
		if ver.Storage && ver.Schema != nil {
			return ver.Schema.OpenAPIV3Schema
		}
	}
	return nil
}

// walkSchema calls fn for every field below spec and status, depth first, fields in
// name order; a list's items add "[]" to the path ("spec.stages[].name").
func walkSchema(path string, p apiextensionsv1.JSONSchemaProps, fn func(string, apiextensionsv1.JSONSchemaProps)) {
	names := make([]string, 0, len(p.Properties))
	for n := range p.Properties {
		if path == "" && n != "spec" && n != "status" {
			continue // apiVersion, kind, metadata: Kubernetes' own
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		child := p.Properties[n]
		cp := n
		if path != "" {
			cp = path + "." + n
		}
		fn(cp, child)
		walkSchema(cp, child, fn)
		if child.Items != nil && child.Items.Schema != nil {
			walkSchema(cp+"[]", *child.Items.Schema, fn)
		}
	}
}
