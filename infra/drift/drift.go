// Package drift reduces two CloudFormation templates, template.yaml expanded by the SAM
// translator and the CDK app's synthesized template, to the same comparable model, so that a
// test can fail on any difference that matters at deploy time.
//
// # Logical ids
//
// The CDK adds a hash to logical ids (SendersTableC36223E2). Each CDK resource carries its
// construct path in Metadata "aws:cdk:path"; the app gives every top-level construct the SAM
// logical id as its construct id, so "<Stack>/SendersTable/Resource" maps back to
// "SendersTable". Resources nested deeper (HttpApi/GET--webhook/...) keep their CDK id: they
// are compared through what they mean (a route, a permission), never by id.
//
// # What is compared
//
//   - Parameters (type, default, allowed values/pattern, NoEcho) and Conditions.
//   - Tables, queues, log groups, alarms and KMS keys: every property, plus DeletionPolicy and
//     UpdateReplacePolicy (CloudFormation's default "Delete" when absent).
//   - Functions: every property except Code (an S3 placeholder on one side, a CDK asset on the
//     other) and Tags (SAM's lambda:createdBy).
//   - Roles: trust policy, managed policies, permissions boundary, and the effective set of
//     (effect, action, resource, condition) grants, gathered from the role's inline policies
//     and from every AWS::IAM::Policy attached to it, whatever the statement grouping.
//   - Event sources: HTTP routes (method, path, authorization, target function, payload
//     format) from SAM's OpenAPI body or the CDK's Route/Integration resources; invoke
//     permissions (function, principal); SQS/stream mappings (every property); schedules
//     (expression, state, targets with their inputs); HTTP API stages (auto-deploy, throttling,
//     access logs, every property but Tags) and the APIs' own properties
//     (DisableExecuteApiEndpoint, CORS).
//   - SNS topics: every property, and the condition they are created under.
//   - Outputs: value and condition.
//
// Intrinsics are rendered to one form so that equivalent spellings compare equal: Ref and
// GetAtt become "${Id}" and "${Id.Attr}", Fn::Sub and Fn::Join of renderable parts become the
// plain string with those placeholders. A resource type the model does not know fails the
// comparison, so nothing new slips through unchecked.
package drift

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Template is a CloudFormation template as decoded from JSON.
type Template struct {
	Parameters map[string]map[string]any `json:"Parameters"`
	Conditions map[string]any            `json:"Conditions"`
	Resources  map[string]Resource       `json:"Resources"`
	Outputs    map[string]map[string]any `json:"Outputs"`
}

// Resource is one entry of a template's Resources.
type Resource struct {
	Type                string         `json:"Type"`
	Properties          map[string]any `json:"Properties"`
	Metadata            map[string]any `json:"Metadata"`
	Condition           string         `json:"Condition"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
}

// Load reads a JSON template.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(data)
}

// Parse decodes a JSON template.
func Parse(data []byte) (*Template, error) {
	var t Template
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	return &t, nil
}

// Model is what the comparison looks at. Every map is keyed by SAM logical id (or by a
// description of the item for derived facts), every value rendered.
type Model struct {
	Parameters   map[string]any
	Conditions   map[string]any
	Tables       map[string]any
	Queues       map[string]any
	LogGroups    map[string]any
	Alarms       map[string]any
	Keys         map[string]any
	Functions    map[string]any
	Roles        map[string]Role
	Routes       []Route
	Permissions  []string
	Mappings     map[string]any
	Schedules    map[string]any
	Stages       []string
	APIs         map[string]any
	Topics       map[string]any
	Outputs      map[string]any
	Unclassified []string
}

// Role is a role's trust and permissions, order- and grouping-free.
type Role struct {
	Trust           any
	ManagedPolicies []string
	Boundary        any
	// Grants are "Effect action on resource [if condition]", one per action and resource.
	Grants []string
}

// Route is one HTTP API route.
type Route struct {
	API           string
	Method        string
	Path          string
	Authorization string
	Function      string
	PayloadFormat string
}

// Options name the parts of a template that are not part of the stack's meaning.
type Options struct {
	// CDKStack is the CDK stack's construct id, the first element of every aws:cdk:path.
	// Empty for a SAM template (logical ids are kept as they are).
	CDKStack string
	// IgnoreParameters and IgnoreConditions are left out (the CDK's BootstrapVersion).
	IgnoreParameters []string
	IgnoreConditions []string
}

// Build reduces t to its Model.
func Build(t *Template, opts Options) *Model {
	b := &builder{t: t, ids: map[string]string{}}
	if opts.CDKStack != "" {
		b.mapCDKIDs(opts.CDKStack)
	}
	m := &Model{
		Parameters: map[string]any{},
		Conditions: map[string]any{},
		Tables:     map[string]any{},
		Queues:     map[string]any{},
		LogGroups:  map[string]any{},
		Alarms:     map[string]any{},
		Keys:       map[string]any{},
		Functions:  map[string]any{},
		Roles:      map[string]Role{},
		Mappings:   map[string]any{},
		Schedules:  map[string]any{},
		Outputs:    map[string]any{},
		APIs:       map[string]any{},
		Topics:     map[string]any{},
	}
	for name, p := range t.Parameters {
		if contains(opts.IgnoreParameters, name) {
			continue
		}
		m.Parameters[name] = b.render(pick(p, "Type", "Default", "AllowedValues", "AllowedPattern", "NoEcho", "MinValue", "MaxValue"))
	}
	for name, c := range t.Conditions {
		if contains(opts.IgnoreConditions, name) {
			continue
		}
		m.Conditions[name] = b.render(c)
	}
	for name, o := range t.Outputs {
		m.Outputs[name] = b.render(pick(o, "Value", "Condition", "Export"))
	}

	integrations := map[string]Resource{}
	policies := []Resource{}
	for id, r := range t.Resources {
		switch r.Type {
		case "AWS::ApiGatewayV2::Integration":
			integrations[id] = r
		case "AWS::IAM::Policy":
			policies = append(policies, r)
		}
	}

	for id, r := range t.Resources {
		key := b.id(id)
		switch r.Type {
		case "AWS::DynamoDB::Table":
			props := b.render(r.Properties).(map[string]any)
			sortBy(props, "AttributeDefinitions", "AttributeName")
			sortBy(props, "GlobalSecondaryIndexes", "IndexName")
			sortBy(props, "LocalSecondaryIndexes", "IndexName")
			m.Tables[key] = withPolicies(r, props)
		case "AWS::SQS::Queue":
			m.Queues[key] = withPolicies(r, b.render(r.Properties))
		case "AWS::Logs::LogGroup":
			m.LogGroups[key] = withPolicies(r, b.render(r.Properties))
		case "AWS::CloudWatch::Alarm":
			m.Alarms[key] = withPolicies(r, b.render(r.Properties))
		case "AWS::KMS::Key", "AWS::KMS::Alias":
			m.Keys[key] = withPolicies(r, b.render(r.Properties))
		case "AWS::Lambda::Function":
			props := b.render(omit(r.Properties, "Code", "Tags")).(map[string]any)
			m.Functions[key] = withPolicies(r, props)
		case "AWS::IAM::Role":
			m.Roles[key] = b.role(id, r, policies)
		case "AWS::IAM::Policy":
			// Folded into the roles it is attached to.
		case "AWS::ApiGatewayV2::Api":
			m.Routes = append(m.Routes, b.openAPIRoutes(key, r)...)
			m.APIs[key] = b.apiProperties(r)
		case "AWS::SNS::Topic":
			m.Topics[key] = withPolicies(r, b.render(omit(r.Properties, "Tags")))
		case "AWS::ApiGatewayV2::Route":
			m.Routes = append(m.Routes, b.route(r, integrations))
		case "AWS::ApiGatewayV2::Integration":
			// Read through the routes that target it.
		case "AWS::ApiGatewayV2::Stage":
			// Every property but Tags (SAM's httpapi:createdBy), rendered as one line per stage.
			j, _ := json.Marshal(b.render(omit(r.Properties, "Tags")))
			m.Stages = append(m.Stages, string(j))
		case "AWS::Lambda::Permission":
			m.Permissions = append(m.Permissions, fmt.Sprintf("%v may be invoked by %v (%v)",
				b.render(r.Properties["FunctionName"]), b.render(r.Properties["Principal"]), b.render(r.Properties["Action"])))
		case "AWS::Lambda::EventSourceMapping":
			props := b.render(r.Properties).(map[string]any)
			m.Mappings[fmt.Sprintf("%v <- %v", props["FunctionName"], props["EventSourceArn"])] = props
		case "AWS::Events::Rule":
			props := b.render(r.Properties).(map[string]any)
			if _, ok := props["State"]; !ok {
				props["State"] = "ENABLED"
			}
			// A target is its ARN and what it is given (the Id is a generated name).
			var targets []string
			for _, tg := range asList(props["Targets"]) {
				j, _ := json.Marshal(omit(asMap(tg), "Id"))
				targets = append(targets, string(j))
			}
			sort.Strings(targets)
			props["Targets"] = targets
			m.Schedules[key] = props
		case "AWS::CDK::Metadata":
			// Version reporting only.
		default:
			m.Unclassified = append(m.Unclassified, key+" ("+r.Type+")")
		}
	}

	// A permission names its function by Ref (SAM) or by ARN (CDK): the same function.
	for i, p := range m.Permissions {
		m.Permissions[i] = arnRef.ReplaceAllString(p, "$${$1}")
	}
	m.Permissions = dedupe(m.Permissions)
	sort.Slice(m.Routes, func(i, j int) bool {
		return m.Routes[i].Path+" "+m.Routes[i].Method < m.Routes[j].Path+" "+m.Routes[j].Method
	})
	sort.Strings(m.Stages)
	sort.Strings(m.Unclassified)
	return m
}

var arnRef = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\.Arn\}`)

type builder struct {
	t   *Template
	ids map[string]string // CDK logical id -> SAM logical id
}

// mapCDKIDs maps "<stack>/<Id>/Resource" and "<stack>/<Id>" paths to Id.
func (b *builder) mapCDKIDs(stack string) {
	for id, r := range b.t.Resources {
		path, _ := r.Metadata["aws:cdk:path"].(string)
		rest, ok := strings.CutPrefix(path, stack+"/")
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, "/Resource")
		if !strings.Contains(rest, "/") {
			b.ids[id] = rest
		}
	}
}

func (b *builder) id(logicalID string) string {
	if v, ok := b.ids[logicalID]; ok {
		return v
	}
	return logicalID
}

// render turns intrinsics into one canonical spelling and scalars into strings.
func (b *builder) render(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if s, ok := b.intrinsic(k, arg); ok {
					return s
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = b.render(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = b.render(x)
		}
		return out
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return nil
	}
	return fmt.Sprint(v)
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// intrinsic renders Ref, GetAtt, Sub and Join when their parts are plain enough to become a
// string; others (If, conditions) keep their shape with rendered arguments.
func (b *builder) intrinsic(name string, arg any) (any, bool) {
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			return nil, false
		}
		return "${" + b.id(s) + "}", true
	case "Fn::GetAtt":
		var parts []string
		switch a := arg.(type) {
		case string:
			parts = strings.SplitN(a, ".", 2)
		case []any:
			for _, p := range a {
				s, ok := p.(string)
				if !ok {
					return nil, false
				}
				parts = append(parts, s)
			}
		}
		if len(parts) != 2 {
			return nil, false
		}
		return "${" + b.id(parts[0]) + "." + parts[1] + "}", true
	case "Fn::Sub":
		var body string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			body = a
		case []any:
			if len(a) != 2 {
				return nil, false
			}
			s, ok := a[0].(string)
			if !ok {
				return nil, false
			}
			body = s
			for k, x := range asMap(a[1]) {
				vars[k] = b.render(x)
			}
		default:
			return nil, false
		}
		return subVar.ReplaceAllStringFunc(body, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := vars[name].(string); ok {
				return v
			}
			if obj, attr, ok := strings.Cut(name, "."); ok {
				return "${" + b.id(obj) + "." + attr + "}"
			}
			return "${" + b.id(name) + "}"
		}), true
	case "Fn::Join":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, false
		}
		sep, ok := a[0].(string)
		if !ok {
			return nil, false
		}
		var parts []string
		for _, x := range asList(a[1]) {
			s, ok := b.render(x).(string)
			if !ok {
				return nil, false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, sep), true
	}
	return nil, false
}

// role gathers a role's trust and effective grants.
func (b *builder) role(id string, r Resource, policies []Resource) Role {
	out := Role{
		Trust:    b.normalizeDocument(r.Properties["AssumeRolePolicyDocument"]),
		Boundary: b.render(r.Properties["PermissionsBoundary"]),
	}
	for _, arn := range asList(r.Properties["ManagedPolicyArns"]) {
		out.ManagedPolicies = append(out.ManagedPolicies, fmt.Sprint(b.render(arn)))
	}
	sort.Strings(out.ManagedPolicies)
	for _, p := range asList(r.Properties["Policies"]) {
		out.Grants = append(out.Grants, b.grants(asMap(p)["PolicyDocument"])...)
	}
	self := "${" + b.id(id) + "}"
	for _, p := range policies {
		for _, attached := range asList(p.Properties["Roles"]) {
			if b.render(attached) == self {
				out.Grants = append(out.Grants, b.grants(p.Properties["PolicyDocument"])...)
			}
		}
	}
	out.Grants = dedupe(out.Grants)
	return out
}

// grants flattens a policy document into one line per (effect, action, resource, condition).
func (b *builder) grants(doc any) []string {
	var out []string
	for _, st := range asList(asMap(doc)["Statement"]) {
		s := asMap(st)
		cond := ""
		if c, ok := s["Condition"]; ok {
			j, _ := json.Marshal(b.render(c))
			cond = " if " + string(j)
		}
		resKey, on := "Resource", "on"
		if _, ok := s["NotResource"]; ok {
			resKey, on = "NotResource", "on all but"
		}
		actKey, verb := "Action", ""
		if _, ok := s["NotAction"]; ok {
			actKey, verb = "NotAction", "all but "
		}
		for _, a := range scalarList(s[actKey]) {
			for _, res := range asList(s[resKey]) {
				out = append(out, fmt.Sprintf("%v %s%s %s %v%s", s["Effect"], verb, a, on, b.render(res), cond))
			}
		}
	}
	return out
}

// normalizeDocument renders a trust policy with single values and lists made alike.
func (b *builder) normalizeDocument(doc any) any {
	var sts []any
	for _, st := range asList(asMap(doc)["Statement"]) {
		s := b.render(st).(map[string]any)
		s["Action"] = scalarList(s["Action"])
		if p, ok := s["Principal"].(map[string]any); ok {
			for k, v := range p {
				p[k] = scalarList(v)
			}
		}
		sts = append(sts, s)
	}
	return sts
}

// apiProperties are an HTTP API's own settings, with CloudFormation's defaults filled in so that
// a template that states a default equals one that leaves it out. SAM writes the routes into Body
// (compared as routes) and may carry the same settings in Body's x-amazon-apigateway extensions.
func (b *builder) apiProperties(r Resource) map[string]any {
	out := map[string]any{"DisableExecuteApiEndpoint": "false", "CorsConfiguration": nil}
	body := asMap(r.Properties["Body"])
	if v, ok := body["x-amazon-apigateway-endpoint-configuration"]; ok {
		if d, ok := asMap(v)["disableExecuteApiEndpoint"]; ok {
			out["DisableExecuteApiEndpoint"] = b.render(d)
		}
	}
	if v, ok := body["x-amazon-apigateway-cors"]; ok {
		out["CorsConfiguration"] = b.render(v)
	}
	for k, v := range omit(r.Properties, "Body", "Name", "ProtocolType", "Tags", "FailOnWarnings") {
		out[k] = b.render(v)
	}
	return out
}

// openAPIRoutes reads the routes SAM writes into an HTTP API's OpenAPI body.
func (b *builder) openAPIRoutes(api string, r Resource) []Route {
	body := asMap(r.Properties["Body"])
	var out []Route
	for path, ops := range asMap(body["paths"]) {
		for method, op := range asMap(ops) {
			o := asMap(op)
			integ := asMap(o["x-amazon-apigateway-integration"])
			if integ == nil {
				continue
			}
			m := strings.ToUpper(method)
			if method == "x-amazon-apigateway-any-method" {
				m = "ANY"
			}
			auth := "NONE"
			for _, sec := range asList(o["security"]) {
				for name := range asMap(sec) {
					if name == "AWS_IAM" {
						auth = "AWS_IAM"
					} else {
						auth = "CUSTOM:" + name
					}
				}
			}
			uri := fmt.Sprint(b.render(integ["uri"]))
			fn := uri
			if m := lambdaURI.FindStringSubmatch(uri); m != nil {
				fn = m[1]
			}
			out = append(out, Route{API: api, Method: m, Path: path, Authorization: auth,
				Function: fn, PayloadFormat: fmt.Sprint(integ["payloadFormatVersion"])})
		}
	}
	return out
}

var lambdaURI = regexp.MustCompile(`/functions/\$\{([A-Za-z0-9]+)\.Arn\}/invocations$`)

// route reads a CDK (or plain CloudFormation) route and the integration it targets.
func (b *builder) route(r Resource, integrations map[string]Resource) Route {
	method, path, _ := strings.Cut(fmt.Sprint(r.Properties["RouteKey"]), " ")
	out := Route{
		API:           strings.Trim(fmt.Sprint(b.render(r.Properties["ApiId"])), "${}"),
		Method:        method,
		Path:          path,
		Authorization: fmt.Sprint(r.Properties["AuthorizationType"]),
	}
	if out.Authorization == "<nil>" {
		out.Authorization = "NONE"
	}
	target := fmt.Sprint(b.render(r.Properties["Target"]))
	integID := strings.Trim(strings.TrimPrefix(target, "integrations/"), "${}")
	for id, integ := range integrations {
		if b.id(id) != integID {
			continue
		}
		out.Function = strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(b.render(integ.Properties["IntegrationUri"])), "${"), ".Arn}")
		out.PayloadFormat = fmt.Sprint(integ.Properties["PayloadFormatVersion"])
	}
	return out
}

// withPolicies adds the deletion policies, with CloudFormation's default when absent.
func withPolicies(r Resource, props any) map[string]any {
	del, repl := r.DeletionPolicy, r.UpdateReplacePolicy
	if del == "" {
		del = "Delete"
	}
	if repl == "" {
		repl = "Delete"
	}
	out := map[string]any{"Properties": props, "DeletionPolicy": del, "UpdateReplacePolicy": repl}
	if r.Condition != "" {
		out["Condition"] = r.Condition
	}
	return out
}

func pick(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

func omit(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if !contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

func sortBy(props map[string]any, list, key string) {
	l, ok := props[list].([]any)
	if !ok {
		return
	}
	sort.SliceStable(l, func(i, j int) bool { return fmt.Sprint(asMap(l[i])[key]) < fmt.Sprint(asMap(l[j])[key]) })
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// asList returns v as a list; a single value becomes a one-element list.
func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

func scalarList(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, fmt.Sprint(x))
	}
	sort.Strings(out)
	return out
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
