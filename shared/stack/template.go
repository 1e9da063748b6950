// Package stack reads template.yaml, the one source of truth for the stack's tables, queues and
// functions, and creates those resources on the local stack (DynamoDB Local, fauxqs).
//
// Nothing here keeps a hand-written list of resources: `make up`, the integration tests
// (shared/testenv) and the local invoker all derive names, key schemas, queue settings and
// function environments from the template, so a change there reaches every local tool.
//
// Local names. CloudFormation names a table without TableName "<stack>-<LogicalId>-<random>";
// locally it is "<stack>-<LogicalId>" (for example "wa-senders-local-SendersTable") so that it is
// stable across restarts. Queues keep their template QueueName with ${AWS::StackName} replaced by
// the local stack name (for example "wa-senders-local-outbound.fifo").
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	cfndynamodb "github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// DefaultStackName names the local stack when no other name is given.
const DefaultStackName = "wa-senders-local"

// Local pseudo-parameter values. The account id is fauxqs's and DynamoDB Local's fixed account.
const (
	LocalRegion    = "us-east-1"
	LocalAccountID = "000000000000"
)

// Resource types the package understands.
const (
	TypeTable    = "AWS::DynamoDB::Table"
	TypeQueue    = "AWS::SQS::Queue"
	TypeFunction = "AWS::Serverless::Function"
)

// Options tune how a template is read.
type Options struct {
	// StackName replaces ${AWS::StackName}; DefaultStackName when empty.
	StackName string
	// Parameters override template parameter values (defaults otherwise; "" when no default).
	Parameters map[string]string
}

// Template is what the local tools need from template.yaml.
type Template struct {
	StackName  string
	Parameters []Parameter
	Tables     []Table
	Queues     []Queue
	Functions  []Function
}

// Parameter is a template parameter and the value it has locally.
type Parameter struct {
	Name       string
	Type       string
	HasDefault bool
	Default    string
	// Value is the override when given, else Default, else "".
	Value string
}

// KeyElement is one element of a key schema.
type KeyElement struct {
	AttributeName string
	KeyType       string // HASH or RANGE
}

// Attribute is an attribute definition.
type Attribute struct {
	Name string
	Type string // S, N or B
}

// Index is a global or local secondary index.
type Index struct {
	Name             string
	KeySchema        []KeyElement
	ProjectionType   string
	NonKeyAttributes []string
}

// Table is a DynamoDB table.
type Table struct {
	LogicalID string
	// Name is the local physical name (see the package comment).
	Name        string
	BillingMode string // PAY_PER_REQUEST or PROVISIONED
	KeySchema   []KeyElement
	Attributes  []Attribute
	GSIs        []Index
	LSIs        []Index
	// TTLAttribute is the time-to-live attribute, "" when TTL is off.
	TTLAttribute string
	// ReadCapacity and WriteCapacity apply to PROVISIONED tables only.
	ReadCapacity, WriteCapacity int64
	// StreamViewType is "" when the table has no stream.
	StreamViewType string
}

// Queue is an SQS queue. Zero durations mean the SQS default.
type Queue struct {
	LogicalID                 string
	Name                      string
	FIFO                      bool
	ContentBasedDeduplication bool
	VisibilityTimeout         int
	MessageRetentionPeriod    int
	DelaySeconds              int
	MaximumMessageSize        int
	ReceiveMessageWaitTime    int
	// DeadLetterTarget is the logical id of the redrive target, "" without a redrive policy.
	DeadLetterTarget string
	MaxReceiveCount  int
}

// Function is a SAM function with Globals merged in.
type Function struct {
	LogicalID string
	// Folder is the code folder under functions/: the logical id without its "Function"
	// suffix, lower-cased (WebhookFunction → webhook).
	Folder        string
	Handler       string
	Runtime       string
	Architectures []string
	Timeout       int
	MemorySize    int
	// LogFormat (Text or JSON) and LogLevel come from LoggingConfig; Lambda passes them to the
	// function as AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL.
	LogFormat string
	LogLevel  string
	// Env is the merged Globals + function environment. Values may hold references to
	// resources (see Template.Resolve); use Template.Env for final values.
	Env    map[string]string
	Events []Event
}

// Event is a function's event source, reduced to what local tools route on.
type Event struct {
	Name string
	Type string // HttpApi, Api, SQS, Schedule, ScheduleV2, ...
	// Path and Method for HTTP events.
	Path, Method string
	// Queue is the logical id of an SQS event's queue.
	Queue                   string
	BatchSize               int
	ReportBatchItemFailures bool
	// MaximumConcurrency is an SQS event's ScalingConfig.MaximumConcurrency (0: not set).
	MaximumConcurrency int
	// Schedule is a schedule event's expression.
	Schedule string
}

// Load reads and parses a template file.
func Load(path string, opts Options) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := Parse(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// LoadRepo reads template.yaml at the root of the repository containing dir (found by walking up
// to go.mod).
func LoadRepo(dir string, opts Options) (*Template, error) {
	root, err := RepoRoot(dir)
	if err != nil {
		return nil, err
	}
	return Load(filepath.Join(root, "template.yaml"), opts)
}

// RepoRoot walks up from dir to the directory holding go.mod.
func RepoRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("repo root: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("repo root: no go.mod above %s", abs)
		}
	}
}

// parseMu serialises goformation, which is not safe for concurrent use.
var parseMu sync.Mutex

// Parse reads a SAM/CloudFormation template.
//
// Intrinsics are evaluated with local handlers: pseudo parameters and parameters become their
// local values, and references to resources become markers ("{{ref:Id}}", "{{getatt:Id.Attr}}")
// that Resolve later turns into local names, URLs and ARNs. goformation's defaults would turn
// them into "" and nil.
func Parse(data []byte, opts Options) (*Template, error) {
	// goformation keeps unsynchronised global state (its intrinsic handlers and tag caches):
	// parallel tests would race inside it.
	parseMu.Lock()
	defer parseMu.Unlock()
	if opts.StackName == "" {
		opts.StackName = DefaultStackName
	}
	// First pass without evaluation: the raw template, for parameter defaults and resource types.
	rawJSON, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	var raw rawTemplate
	if err := json.Unmarshal(rawJSON, &raw); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	ev := &evaluator{stack: opts.StackName, params: map[string]string{}, paramTypes: map[string]string{}, types: map[string]string{}}
	for id, r := range raw.Resources {
		ev.types[id] = r.Type
	}
	t := &Template{StackName: opts.StackName}
	for _, name := range sortedKeys(raw.Parameters) {
		p := raw.Parameters[name]
		par := Parameter{Name: name, Type: p.Type}
		if p.Default != nil {
			par.HasDefault = true
			par.Default = scalarString(p.Default)
			par.Value = par.Default
		}
		if v, ok := opts.Parameters[name]; ok {
			par.Value = v
		}
		ev.params[name] = par.Value
		ev.paramTypes[name] = p.Type
		t.Parameters = append(t.Parameters, par)
	}
	for name := range opts.Parameters {
		if _, ok := ev.params[name]; !ok {
			return nil, fmt.Errorf("parameter override %s: no such parameter", name)
		}
	}

	processed, err := intrinsics.ProcessJSON(rawJSON, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref":        ev.ref,
			"Fn::GetAtt": ev.getAtt,
			"Fn::Sub":    ev.sub,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("evaluate intrinsics: %w", err)
	}
	var plain rawTemplate
	if err := json.Unmarshal(processed, &plain); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	typed, err := typedDataResources(processed)
	if err != nil {
		return nil, err
	}

	if err := t.readTables(typed); err != nil {
		return nil, err
	}
	if err := t.readQueues(typed); err != nil {
		return nil, err
	}
	if err := t.readFunctions(plain); err != nil {
		return nil, err
	}
	return t, nil
}

// typedDataResources decodes the tables and queues with goformation's typed structs. Other
// resources are left out: goformation's schema lags SAM's (it rejects a function's LoggingConfig
// as an unknown field) and functions are read from plain maps anyway.
func typedDataResources(processed []byte) (*cloudformation.Template, error) {
	var doc struct {
		Resources map[string]json.RawMessage `json:"Resources"`
	}
	if err := json.Unmarshal(processed, &doc); err != nil {
		return nil, fmt.Errorf("decode resources: %w", err)
	}
	keep := map[string]json.RawMessage{}
	for id, raw := range doc.Resources {
		var r struct{ Type string }
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("decode resource %s: %w", id, err)
		}
		if r.Type == TypeTable || r.Type == TypeQueue {
			keep[id] = raw
		}
	}
	data, err := json.Marshal(map[string]any{"Resources": keep})
	if err != nil {
		return nil, fmt.Errorf("encode resources: %w", err)
	}
	typed, err := goformation.ParseJSONWithOptions(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("decode tables and queues: %w", err)
	}
	return typed, nil
}

type rawTemplate struct {
	Parameters map[string]struct {
		Type    string `json:"Type"`
		Default any    `json:"Default"`
	} `json:"Parameters"`
	Globals   map[string]map[string]any `json:"Globals"`
	Resources map[string]struct {
		Type       string         `json:"Type"`
		Properties map[string]any `json:"Properties"`
	} `json:"Resources"`
}

func (t *Template) readTables(typed *cloudformation.Template) error {
	for _, id := range sortedKeys(typed.GetAllDynamoDBTableResources()) {
		r := typed.GetAllDynamoDBTableResources()[id]
		tb := Table{LogicalID: id, Name: t.StackName + "-" + id, BillingMode: "PROVISIONED"}
		if r.TableName != nil && *r.TableName != "" {
			tb.Name = *r.TableName
		}
		if hasMarker(tb.Name) {
			return fmt.Errorf("table %s: TableName refers to another resource; not supported locally", id)
		}
		if r.BillingMode != nil {
			tb.BillingMode = *r.BillingMode
		}
		if r.ProvisionedThroughput != nil {
			tb.ReadCapacity = int64(r.ProvisionedThroughput.ReadCapacityUnits)
			tb.WriteCapacity = int64(r.ProvisionedThroughput.WriteCapacityUnits)
		}
		for _, a := range r.AttributeDefinitions {
			tb.Attributes = append(tb.Attributes, Attribute{Name: a.AttributeName, Type: a.AttributeType})
		}
		tb.KeySchema = keySchema(r.KeySchema)
		for _, g := range r.GlobalSecondaryIndexes {
			tb.GSIs = append(tb.GSIs, index(g.IndexName, g.KeySchema, g.Projection))
		}
		for _, l := range r.LocalSecondaryIndexes {
			tb.LSIs = append(tb.LSIs, index(l.IndexName, l.KeySchema, l.Projection))
		}
		if s := r.TimeToLiveSpecification; s != nil && s.Enabled && s.AttributeName != nil {
			tb.TTLAttribute = *s.AttributeName
		}
		if s := r.StreamSpecification; s != nil {
			tb.StreamViewType = s.StreamViewType
		}
		if len(tb.KeySchema) == 0 {
			return fmt.Errorf("table %s: no KeySchema", id)
		}
		t.Tables = append(t.Tables, tb)
	}
	return nil
}

type (
	dynamodbKey        = cfndynamodb.Table_KeySchema
	dynamodbProjection = cfndynamodb.Table_Projection
)

func keySchema(ks []dynamodbKey) []KeyElement {
	out := make([]KeyElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, KeyElement{AttributeName: k.AttributeName, KeyType: k.KeyType})
	}
	return out
}

func index(name string, ks []dynamodbKey, p *dynamodbProjection) Index {
	ix := Index{Name: name, KeySchema: keySchema(ks), ProjectionType: "ALL"}
	if p != nil {
		if p.ProjectionType != nil {
			ix.ProjectionType = *p.ProjectionType
		}
		ix.NonKeyAttributes = p.NonKeyAttributes
	}
	return ix
}

var getAttMarker = regexp.MustCompile(`^\{\{getatt:([A-Za-z0-9]+)\.Arn\}\}$`)

func (t *Template) readQueues(typed *cloudformation.Template) error {
	for _, id := range sortedKeys(typed.GetAllSQSQueueResources()) {
		r := typed.GetAllSQSQueueResources()[id]
		q := Queue{LogicalID: id, Name: t.StackName + "-" + id}
		if r.FifoQueue != nil {
			q.FIFO = *r.FifoQueue
		}
		if r.QueueName != nil && *r.QueueName != "" {
			q.Name = *r.QueueName
		} else if q.FIFO {
			q.Name += ".fifo"
		}
		if hasMarker(q.Name) {
			return fmt.Errorf("queue %s: QueueName refers to another resource; not supported locally", id)
		}
		if q.FIFO != strings.HasSuffix(q.Name, ".fifo") {
			return fmt.Errorf("queue %s: FIFO queue names end in .fifo and others do not (%q)", id, q.Name)
		}
		deref := func(p *int) int {
			if p == nil {
				return 0
			}
			return *p
		}
		if r.ContentBasedDeduplication != nil {
			q.ContentBasedDeduplication = *r.ContentBasedDeduplication
		}
		q.VisibilityTimeout = deref(r.VisibilityTimeout)
		q.MessageRetentionPeriod = deref(r.MessageRetentionPeriod)
		q.DelaySeconds = deref(r.DelaySeconds)
		q.MaximumMessageSize = deref(r.MaximumMessageSize)
		q.ReceiveMessageWaitTime = deref(r.ReceiveMessageWaitTimeSeconds)
		if r.RedrivePolicy != nil {
			rp, ok := r.RedrivePolicy.(map[string]any)
			if !ok {
				return fmt.Errorf("queue %s: RedrivePolicy is not an object", id)
			}
			target, _ := rp["deadLetterTargetArn"].(string)
			m := getAttMarker.FindStringSubmatch(target)
			if m == nil {
				return fmt.Errorf("queue %s: deadLetterTargetArn must be !GetAtt <Queue>.Arn, got %q", id, target)
			}
			q.DeadLetterTarget = m[1]
			n, err := strconv.Atoi(scalarString(rp["maxReceiveCount"]))
			if err != nil || n < 1 {
				return fmt.Errorf("queue %s: maxReceiveCount: want a positive integer", id)
			}
			q.MaxReceiveCount = n
		}
		t.Queues = append(t.Queues, q)
	}
	for _, q := range t.Queues {
		if q.DeadLetterTarget != "" && t.Queue(q.DeadLetterTarget) == nil {
			return fmt.Errorf("queue %s: dead-letter target %s is not a queue in the template", q.LogicalID, q.DeadLetterTarget)
		}
	}
	return nil
}

// readFunctions works on plain maps: goformation does not merge Globals and drops SQS events
// that carry FunctionResponseTypes.
func (t *Template) readFunctions(plain rawTemplate) error {
	globals := plain.Globals["Function"]
	for _, id := range sortedKeys(plain.Resources) {
		r := plain.Resources[id]
		if r.Type != TypeFunction {
			continue
		}
		get := func(key string) any {
			if v, ok := r.Properties[key]; ok {
				return v
			}
			return globals[key]
		}
		f := Function{
			LogicalID:  id,
			Folder:     strings.ToLower(strings.TrimSuffix(id, "Function")),
			Handler:    scalarString(get("Handler")),
			Runtime:    scalarString(get("Runtime")),
			Timeout:    atoiOr(scalarString(get("Timeout")), 3),
			MemorySize: atoiOr(scalarString(get("MemorySize")), 128),
			Env:        map[string]string{},
		}
		// LoggingConfig merges key by key, like Environment.
		for _, src := range []map[string]any{globals, r.Properties} {
			lc, _ := src["LoggingConfig"].(map[string]any)
			if v := scalarString(lc["LogFormat"]); v != "" {
				f.LogFormat = v
			}
			if v := scalarString(lc["ApplicationLogLevel"]); v != "" {
				f.LogLevel = v
			}
		}
		if archs, ok := get("Architectures").([]any); ok {
			for _, a := range archs {
				f.Architectures = append(f.Architectures, scalarString(a))
			}
		}
		if len(f.Architectures) == 0 {
			f.Architectures = []string{"x86_64"}
		}
		// Function variables win over Globals, as SAM merges maps.
		for _, src := range []map[string]any{globals, r.Properties} {
			env, _ := src["Environment"].(map[string]any)
			vars, _ := env["Variables"].(map[string]any)
			for k, v := range vars {
				f.Env[k] = scalarString(v)
			}
		}
		events, _ := r.Properties["Events"].(map[string]any)
		for _, name := range sortedKeys(events) {
			e, _ := events[name].(map[string]any)
			props, _ := e["Properties"].(map[string]any)
			ev := Event{
				Name:     name,
				Type:     scalarString(e["Type"]),
				Path:     scalarString(props["Path"]),
				Method:   scalarString(props["Method"]),
				Schedule: scalarString(props["ScheduleExpression"]),
			}
			if ev.Schedule == "" {
				ev.Schedule = scalarString(props["Schedule"])
			}
			if ev.Type == "SQS" {
				m := getAttMarker.FindStringSubmatch(scalarString(props["Queue"]))
				if m == nil {
					return fmt.Errorf("function %s event %s: Queue must be !GetAtt <Queue>.Arn", id, name)
				}
				ev.Queue = m[1]
				ev.BatchSize = atoiOr(scalarString(props["BatchSize"]), 10)
				if sc, ok := props["ScalingConfig"].(map[string]any); ok {
					ev.MaximumConcurrency = atoiOr(scalarString(sc["MaximumConcurrency"]), 0)
				}
				types, _ := props["FunctionResponseTypes"].([]any)
				for _, ft := range types {
					if ft == "ReportBatchItemFailures" {
						ev.ReportBatchItemFailures = true
					}
				}
			}
			f.Events = append(f.Events, ev)
		}
		t.Functions = append(t.Functions, f)
	}
	return nil
}

// Table returns the table with the logical id, nil when there is none.
func (t *Template) Table(logicalID string) *Table {
	for i := range t.Tables {
		if t.Tables[i].LogicalID == logicalID {
			return &t.Tables[i]
		}
	}
	return nil
}

// Queue returns the queue with the logical id, nil when there is none.
func (t *Template) Queue(logicalID string) *Queue {
	for i := range t.Queues {
		if t.Queues[i].LogicalID == logicalID {
			return &t.Queues[i]
		}
	}
	return nil
}

// Function returns the function with the logical id, nil when there is none.
func (t *Template) Function(logicalID string) *Function {
	for i := range t.Functions {
		if t.Functions[i].LogicalID == logicalID {
			return &t.Functions[i]
		}
	}
	return nil
}

// ParameterValues returns each parameter's local value by name.
func (t *Template) ParameterValues() map[string]string {
	out := make(map[string]string, len(t.Parameters))
	for _, p := range t.Parameters {
		out[p.Name] = p.Value
	}
	return out
}

// QueueARN is the ARN a queue has locally (fauxqs uses the same form).
func QueueARN(name string) string {
	return "arn:aws:sqs:" + LocalRegion + ":" + LocalAccountID + ":" + name
}

// TableARN is the ARN a table has locally.
func TableARN(name string) string {
	return "arn:aws:dynamodb:" + LocalRegion + ":" + LocalAccountID + ":table/" + name
}

// ErrUnresolved reports a reference Resolve cannot turn into a value.
var ErrUnresolved = errors.New("unresolved reference")

var marker = regexp.MustCompile(`\{\{(ref|getatt):([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}\}`)

func hasMarker(s string) bool { return marker.MatchString(s) }

// Resolve replaces references to resources in s: a table's Ref is its name, a queue's Ref its URL
// (from queueURLs, keyed by logical id), Arn attributes the local ARN, QueueName/QueueUrl the
// queue's name/URL. Other references are ErrUnresolved.
func (t *Template) Resolve(s string, queueURLs map[string]string) (string, error) {
	var errs []error
	out := marker.ReplaceAllStringFunc(s, func(m string) string {
		parts := marker.FindStringSubmatch(m)
		kind, id, attr := parts[1], parts[2], parts[3]
		if tb := t.Table(id); tb != nil {
			switch {
			case kind == "ref":
				return tb.Name
			case attr == "Arn":
				return TableARN(tb.Name)
			}
		}
		if q := t.Queue(id); q != nil {
			switch {
			case kind == "ref" || attr == "QueueUrl":
				if u, ok := queueURLs[id]; ok {
					return u
				}
				errs = append(errs, fmt.Errorf("%w: no URL for queue %s", ErrUnresolved, id))
				return m
			case attr == "Arn":
				return QueueARN(q.Name)
			case attr == "QueueName":
				return q.Name
			}
		}
		errs = append(errs, fmt.Errorf("%w: %s", ErrUnresolved, strings.Trim(m, "{}")))
		return m
	})
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return out, nil
}

// Env returns a function's environment with every reference resolved.
func (t *Template) Env(logicalID string, queueURLs map[string]string) (map[string]string, error) {
	f := t.Function(logicalID)
	if f == nil {
		return nil, fmt.Errorf("function %s: not in the template", logicalID)
	}
	out := make(map[string]string, len(f.Env))
	for k, v := range f.Env {
		r, err := t.Resolve(v, queueURLs)
		if err != nil {
			return nil, fmt.Errorf("function %s env %s: %w", logicalID, k, err)
		}
		out[k] = r
	}
	return out, nil
}

// evaluator holds what the intrinsic handlers need.
type evaluator struct {
	stack      string
	params     map[string]string
	paramTypes map[string]string
	types      map[string]string
}

func (e *evaluator) pseudo(name string) (string, bool) {
	switch name {
	case "AWS::StackName":
		return e.stack, true
	case "AWS::Region":
		return LocalRegion, true
	case "AWS::AccountId":
		return LocalAccountID, true
	case "AWS::Partition":
		return "aws", true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	case "AWS::StackId":
		return "arn:aws:cloudformation:" + LocalRegion + ":" + LocalAccountID + ":stack/" + e.stack + "/local", true
	}
	return "", false
}

// lookup resolves a Ref or Sub variable name to a value or a marker.
func (e *evaluator) lookup(name string) string {
	if v, ok := e.pseudo(name); ok {
		return v
	}
	if v, ok := e.params[name]; ok {
		return v
	}
	if _, ok := e.types[name]; ok {
		return "{{ref:" + name + "}}"
	}
	// Unknown names stay visible rather than silently becoming "".
	return "{{ref:" + name + "}}"
}

func (e *evaluator) ref(_ string, input any, _ any) any {
	name, ok := input.(string)
	if !ok {
		return nil
	}
	if name == "AWS::NoValue" {
		return nil
	}
	// Number parameters stay numbers so typed properties (RetentionInDays) still decode.
	if e.paramTypes[name] == "Number" {
		if f, err := strconv.ParseFloat(e.params[name], 64); err == nil {
			return f
		}
	}
	return e.lookup(name)
}

func (e *evaluator) getAtt(_ string, input any, _ any) any {
	var id, attr string
	switch v := input.(type) {
	case string:
		id, attr, _ = strings.Cut(v, ".")
	case []any:
		if len(v) == 2 {
			id, attr = scalarString(v[0]), scalarString(v[1])
		}
	}
	if id == "" || attr == "" {
		return nil
	}
	return "{{getatt:" + id + "." + attr + "}}"
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (e *evaluator) sub(_ string, input any, _ any) any {
	var src string
	vars := map[string]any{}
	switch v := input.(type) {
	case string:
		src = v
	case []any:
		if len(v) != 2 {
			return nil
		}
		src = scalarString(v[0])
		if m, ok := v[1].(map[string]any); ok {
			vars = m
		}
	default:
		return nil
	}
	return subVar.ReplaceAllStringFunc(src, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}" // ${!Literal} escapes
		}
		if v, ok := vars[name]; ok {
			return scalarString(v)
		}
		if id, attr, ok := strings.Cut(name, "."); ok {
			return "{{getatt:" + id + "." + attr + "}}"
		}
		return e.lookup(name)
	})
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
