package stack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The AWS calls each function's code can make, derived from the code itself: every Lambda main
// under functions/ is type-checked with the packages of this module it imports, and a call
// graph is walked from its main (static calls, function and method values, and interface
// methods resolved to every type of this module that implements the interface and that the
// walked code creates: a composite literal, a conversion or new). Each reachable
// AWS SDK operation (a method whose input is a service's <Op>Input, whether called on the SDK
// client or on an interface of ours with the SDK's signature) becomes the IAM action that
// authorizes it. A DynamoDB transaction is authorized per item, so its Put, Update, Delete and
// ConditionCheck items count as PutItem, UpdateItem, DeleteItem and ConditionCheckItem.

const modulePath = "github.com/aloro/wa-senders"

// sdkServices maps an SDK service package to its IAM prefix.
var sdkServices = map[string]string{
	"github.com/aws/aws-sdk-go-v2/service/dynamodb":       "dynamodb",
	"github.com/aws/aws-sdk-go-v2/service/sqs":            "sqs",
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager": "secretsmanager",
	"github.com/aws/aws-sdk-go-v2/service/kms":            "kms",
}

// operationActions names the action of operations whose IAM action differs from their name.
var operationActions = map[string][]string{
	"dynamodb:TransactWriteItems":         nil, // per item, from the item literals
	"dynamodb:TransactGetItems":           {"dynamodb:GetItem"},
	"sqs:SendMessageBatch":                {"sqs:SendMessage"},
	"sqs:DeleteMessageBatch":              {"sqs:DeleteMessage"},
	"sqs:ChangeMessageVisibilityBatch":    {"sqs:ChangeMessageVisibility"},
	"dynamodb:BatchExecuteStatement":      nil,
	"secretsmanager:BatchGetSecretValue":  {"secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"},
	"dynamodb:ExecuteTransaction":         nil,
	"dynamodb:DescribeEndpoints":          nil,
	"sqs:GetQueueUrl":                     {"sqs:GetQueueUrl"},
	"secretsmanager:DescribeSecret":       {"secretsmanager:DescribeSecret"},
	"dynamodb:TransactWriteItems (items)": nil,
}

// transactItems maps DynamoDB transaction item types to the action each needs.
var transactItems = map[string]string{
	"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
	"Delete": "dynamodb:DeleteItem", "ConditionCheck": "dynamodb:ConditionCheckItem",
}

type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Export     string
	Standard   bool
}

// codeActions returns, for each function folder under functions/, the sorted IAM actions its
// code can reach, and "phonenumbers:<Func>" for each function of nyaruka/phonenumbers it can
// call.
func codeActions(t *testing.T) map[string][]string {
	t.Helper()
	derived.Lock()
	defer derived.Unlock()
	if derived.actions == nil {
		derived.actions = deriveActions(t)
	}
	return derived.actions
}

// derived keeps codeActions' result: the derivation type-checks the whole module, and several
// tests read it.
var derived struct {
	sync.Mutex
	actions map[string][]string
}

func deriveActions(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-export", "-json=ImportPath,Dir,GoFiles,Export,Standard", "./functions/...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	exports := map[string]string{}
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
		exports[p.ImportPath] = p.Export
	}

	fset := token.NewFileSet()
	gc := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	own := map[string]*types.Package{}
	imp := importerFunc(func(path string) (*types.Package, error) {
		if p, ok := own[path]; ok {
			return p, nil
		}
		return gc.Import(path)
	})
	g := &callGraph{edges: map[*types.Func]map[*types.Func]bool{}, actions: map[*types.Func][]string{},
		pkgVars: map[*types.Package]map[*types.Func]bool{}, makes: map[*types.Func]map[*types.TypeName]bool{},
		pkgMakes: map[*types.Package]map[*types.TypeName]bool{}}
	var mains []string
	// go list -deps lists dependencies before their importers.
	for _, p := range pkgs {
		if p.Standard || !strings.HasPrefix(p.ImportPath, modulePath+"/") {
			continue
		}
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		info := &types.Info{Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}, Types: map[ast.Expr]types.TypeAndValue{}}
		tp, err := (&types.Config{Importer: imp}).Check(p.ImportPath, fset, files, info)
		if err != nil {
			t.Fatalf("type-check %s: %v", p.ImportPath, err)
		}
		own[p.ImportPath] = tp
		g.add(tp, files, info)
		if strings.HasPrefix(p.ImportPath, modulePath+"/functions/") {
			mains = append(mains, p.ImportPath)
		}
	}
	g.own = own
	res := map[string][]string{}
	for _, m := range mains {
		main, _ := own[m].Scope().Lookup("main").(*types.Func)
		if main == nil {
			t.Fatalf("%s has no main", m)
		}
		res[filepath.Base(m)] = g.reach(main)
	}
	return res
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

type callGraph struct {
	own     map[string]*types.Package
	edges   map[*types.Func]map[*types.Func]bool
	actions map[*types.Func][]string
	// pkgVars holds what package-level variable initializers refer to, by package: reached
	// with the first function of the package.
	pkgVars map[*types.Package]map[*types.Func]bool
	// makes holds the types of this module each function creates (composite literals,
	// conversions, new), and pkgMakes those of package-level initializers: an interface method
	// resolves only to types created by reachable code (rapid type analysis), so that a
	// function's http.Handler does not reach every other function's handler.
	makes    map[*types.Func]map[*types.TypeName]bool
	pkgMakes map[*types.Package]map[*types.TypeName]bool
}

// add records, for every function declared in files, the functions it refers to and the AWS
// actions it makes directly.
func (g *callGraph) add(pkg *types.Package, files []*ast.File, info *types.Info) {
	vars := map[*types.Func]bool{}
	g.pkgVars[pkg] = vars
	pkgMakes := map[*types.TypeName]bool{}
	g.pkgMakes[pkg] = pkgMakes
	// made records a type of this module that expression e creates.
	made := func(into map[*types.TypeName]bool, e ast.Expr) {
		var typ types.Type
		switch e := e.(type) {
		case *ast.CompositeLit:
			typ = info.Types[e].Type
		case *ast.CallExpr:
			if tv, ok := info.Types[e.Fun]; ok && tv.IsType() {
				typ = tv.Type // a conversion
			} else if id, ok := e.Fun.(*ast.Ident); ok && id.Name == "new" && len(e.Args) == 1 {
				typ = info.Types[e.Args[0]].Type
			}
		}
		if named, ok := deref(typ).(*types.Named); ok {
			obj := named.Origin().Obj()
			if obj.Pkg() != nil && strings.HasPrefix(obj.Pkg().Path(), modulePath+"/") {
				into[obj] = true
			}
		}
	}
	for _, f := range files {
		for _, d := range f.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				ast.Inspect(gd, func(n ast.Node) bool {
					if id, ok := n.(*ast.Ident); ok {
						if callee, ok := info.Uses[id].(*types.Func); ok {
							vars[callee.Origin()] = true
						}
					}
					if e, ok := n.(ast.Expr); ok {
						made(pkgMakes, e)
					}
					return true
				})
				continue
			}
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			fn, _ := info.Defs[fd.Name].(*types.Func)
			if fn == nil {
				continue
			}
			out := map[*types.Func]bool{}
			makes := map[*types.TypeName]bool{}
			g.makes[fn] = makes
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if e, ok := n.(ast.Expr); ok {
					made(makes, e)
				}
				switch n := n.(type) {
				case *ast.Ident:
					if callee, ok := info.Uses[n].(*types.Func); ok {
						callee = callee.Origin()
						out[callee] = true
						if a, ok := sdkAction(callee); ok {
							g.actions[fn] = append(g.actions[fn], a...)
						}
						if callee.Pkg() != nil && callee.Pkg().Path() == phonenumbersPath {
							// Not an AWS call: what TestPhonenumbersLinkedOnlyWhereParsed reads.
							g.actions[fn] = append(g.actions[fn], "phonenumbers:"+callee.Name())
						}
					}
				case *ast.CompositeLit:
					if named, ok := deref(info.Types[n].Type).(*types.Named); ok {
						obj := named.Obj()
						if obj.Pkg() != nil && obj.Pkg().Path() == "github.com/aws/aws-sdk-go-v2/service/dynamodb/types" {
							if a, ok := transactItems[obj.Name()]; ok {
								g.actions[fn] = append(g.actions[fn], a)
							}
						}
					}
				}
				return true
			})
			g.edges[fn] = out
		}
	}
}

// sdkAction reports the IAM actions of fn when it is an SDK operation: a method whose second
// parameter is *<service>.<Op>Input.
func sdkAction(fn *types.Func) ([]string, bool) {
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil || sig.Params().Len() < 2 {
		return nil, false
	}
	named, ok := deref(sig.Params().At(1).Type()).(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return nil, false
	}
	prefix, ok := sdkServices[named.Obj().Pkg().Path()]
	if !ok || named.Obj().Name() != fn.Name()+"Input" {
		return nil, false
	}
	op := prefix + ":" + fn.Name()
	if a, ok := operationActions[op]; ok {
		return a, true
	}
	return []string{op}, true
}

func deref(t types.Type) types.Type {
	if p, ok := t.(*types.Pointer); ok {
		return p.Elem()
	}
	return t
}

// reach walks the graph from root and returns the sorted actions reached. Interface methods
// resolve to the types the reached code creates; the walk repeats until that set stops growing.
func (g *callGraph) reach(root *types.Func) []string {
	created := map[*types.TypeName]bool{}
	for {
		seen := map[*types.Func]bool{}
		seenPkg := map[*types.Package]bool{}
		acts := map[string]bool{}
		grew := false
		add := func(m map[*types.TypeName]bool) {
			for tn := range m {
				if !created[tn] {
					created[tn] = true
					grew = true
				}
			}
		}
		var visit func(fn *types.Func)
		visit = func(fn *types.Func) {
			if seen[fn] {
				return
			}
			seen[fn] = true
			if p := fn.Pkg(); p != nil && !seenPkg[p] {
				seenPkg[p] = true
				add(g.pkgMakes[p])
				for callee := range g.pkgVars[p] {
					visit(callee)
				}
			}
			add(g.makes[fn])
			for _, a := range g.actions[fn] {
				acts[a] = true
			}
			for callee := range g.edges[fn] {
				visit(callee)
			}
			for _, impl := range g.implementations(fn, created) {
				visit(impl)
			}
		}
		visit(root)
		if grew {
			continue
		}
		var out []string
		for a := range acts {
			out = append(out, a)
		}
		sort.Strings(out)
		return out
	}
}

// implementations resolves an interface method to the methods of the same name on every type
// of this module in created that implements the interface.
func (g *callGraph) implementations(fn *types.Func, created map[*types.TypeName]bool) []*types.Func {
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return nil
	}
	iface, ok := sig.Recv().Type().Underlying().(*types.Interface)
	if !ok {
		return nil
	}
	var out []*types.Func
	for _, p := range g.own {
		scope := p.Scope()
		for _, name := range scope.Names() {
			tn, ok := scope.Lookup(name).(*types.TypeName)
			if !ok || !created[tn] || types.IsInterface(tn.Type()) {
				continue
			}
			for _, T := range []types.Type{tn.Type(), types.NewPointer(tn.Type())} {
				if !types.Implements(T, iface) {
					continue
				}
				obj, _, _ := types.LookupFieldOrMethod(T, true, p, fn.Name())
				if m, ok := obj.(*types.Func); ok {
					out = append(out, m.Origin())
				}
				break
			}
		}
	}
	return out
}

// eventSourceActions are the calls Lambda makes with a function's role for an SQS event source
// (it polls, deletes what succeeded, and reads the queue's attributes).
var eventSourceActions = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}

// mayAlsoGrant are actions a role may hold without its code calling them, because a service
// calls them on the role's behalf: reading a secret encrypted with a customer-managed KMS key
// needs kms:Decrypt on that key.
var mayAlsoGrant = map[string][]string{
	"secretsmanager:GetSecretValue": {"kms:Decrypt"},
}

// TestRolesGrantWhatTheCodeCalls compares, for each function of template.yaml, the DynamoDB,
// SQS and Secrets Manager actions its role allows with the ones its code can call (codeActions)
// plus its event sources' (eventSourceActions): a grant the code never uses (such as
// dynamodb:TransactWriteItems, which IAM does not even check) and a call the role does not
// allow both fail. infra/stack.go follows template.yaml through the drift test.
func TestRolesGrantWhatTheCodeCalls(t *testing.T) {
	code := codeActions(t)
	granted, sqsSources := roleActions(t)
	if len(granted) == 0 {
		t.Fatal("template.yaml has no function roles")
	}
	for fn, have := range granted {
		folder := strings.ToLower(strings.TrimSuffix(fn, "Function"))
		calls, ok := code[folder]
		if !ok {
			t.Errorf("%s: no functions/%s main to derive its calls from", fn, folder)
			continue
		}
		if len(calls) == 0 {
			t.Errorf("%s: derived no AWS call at all from functions/%s (the derivation is broken)", fn, folder)
		}
		want := map[string]bool{}
		for _, a := range calls {
			if checkedService(a) {
				want[a] = true
			}
		}
		if sqsSources[fn] {
			for _, a := range eventSourceActions {
				want[a] = true
			}
		}
		allowed := map[string]bool{}
		for a := range want {
			for _, extra := range mayAlsoGrant[a] {
				allowed[extra] = true
			}
		}
		for a := range have {
			if !want[a] && !allowed[a] {
				t.Errorf("%s's role allows %s, which its code never calls: remove it from template.yaml and infra/stack.go", fn, a)
			}
		}
		for a := range want {
			if !have[a] {
				t.Errorf("%s's code calls %s, which its role does not allow: add it to template.yaml and infra/stack.go", fn, a)
			}
		}
	}
}

// roleActions reads each function's role's actions on the services of sdkServices
// from template.yaml, and which functions have an SQS event source.
func roleActions(t *testing.T) (map[string]map[string]bool, map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	processed, err := processTemplate(data)
	if err != nil {
		t.Fatalf("process template.yaml: %v", err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string `json:"Type"`
			Properties struct {
				Role   any `json:"Role"`
				Events map[string]struct {
					Type string `json:"Type"`
				} `json:"Events"`
				Policies []struct {
					PolicyDocument struct {
						Statement []struct {
							Effect string `json:"Effect"`
							Action any    `json:"Action"`
						} `json:"Statement"`
					} `json:"PolicyDocument"`
				} `json:"Policies"`
			} `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(processed, &tpl); err != nil {
		t.Fatalf("decode template: %v", err)
	}
	granted, sources := map[string]map[string]bool{}, map[string]bool{}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		role := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(r.Properties.Role), "${"), ".Arn}")
		rr, ok := tpl.Resources[role]
		if !ok {
			t.Errorf("%s: role %v is not a resource of template.yaml", id, r.Properties.Role)
			continue
		}
		acts := map[string]bool{}
		for _, p := range rr.Properties.Policies {
			for _, st := range p.PolicyDocument.Statement {
				for _, a := range list(st.Action) {
					if st.Effect == "Allow" && checkedService(a) {
						acts[a] = true
					}
				}
			}
		}
		granted[id] = acts
		for _, ev := range r.Properties.Events {
			if ev.Type == "SQS" {
				sources[id] = true
			}
		}
	}
	return granted, sources
}

// TestCodeActionsFollowEachComposition guards the derivation itself: calls made only by one
// function's code must not leak into another's (the graph starts at each main), and calls made
// through this module's interfaces must be found (the store is reached only through them).
func TestCodeActionsFollowEachComposition(t *testing.T) {
	code := codeActions(t)
	has := func(fn, action string) bool {
		for _, a := range code[fn] {
			if a == action {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		fn, action string
		want       bool
	}{
		// The consumer's retry delay: only the outbound function changes visibility.
		{"outbound", "sqs:ChangeMessageVisibility", true},
		{"webhook", "sqs:ChangeMessageVisibility", false},
		{"senders", "sqs:ChangeMessageVisibility", false},
		// Reached through the webhook's Store interface, implemented by shared/store.
		{"webhook", "dynamodb:PutItem", true},
		{"webhook", "sqs:SendMessage", true},
		// Every function reads its secret at cold start.
		{"reconciler", "secretsmanager:GetSecretValue", true},
		// No code polls the queue itself: the event source mapping does.
		{"outbound", "sqs:ReceiveMessage", false},
		// Interface calls resolve only to types the function's code creates: the webhook's
		// http.Handler is not the admin API's (whose window lookup batch-reads and whose PINs
		// are sealed), and the webhook builds no Graph client (whose tokens are unwrapped).
		{"webhook", "dynamodb:BatchGetItem", false},
		{"webhook", "kms:GenerateDataKey", false},
		{"webhook", "kms:Decrypt", false},
		{"senders", "kms:GenerateDataKey", true},
		{"outbound", "kms:Decrypt", true},
	} {
		if got := has(tc.fn, tc.action); got != tc.want {
			t.Errorf("%s reaches %s: %v, want %v (derived: %v)", tc.fn, tc.action, got, tc.want, code[tc.fn])
		}
	}
}

// checkedService reports whether an action belongs to a service whose calls codeActions derives.
func checkedService(action string) bool {
	for _, prefix := range sdkServices {
		if strings.HasPrefix(action, prefix+":") {
			return true
		}
	}
	return false
}
