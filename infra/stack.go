package main

import (
	"slices"

	"fmt"
	"os"
	"os/exec"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Construct ids are the SAM logical ids of template.yaml (SendersTable, OutboundQueue,
// WebhookFunction, WebhookFunctionRole, ...): the drift test maps every CDK resource back to
// template.yaml through its construct path (<stack>/<id>/Resource -> <id>), so renaming one
// here without renaming it there fails that test.

// SendersStackProps configures NewSendersStack.
type SendersStackProps struct {
	awscdk.StackProps
	// RepoDir is the repository root: its Makefile has the build-<LogicalId> targets.
	RepoDir string
}

// memoryMB is template.yaml's Globals MemorySize (see the comment there for why). Every
// function sets its own timeout, as in template.yaml.
const memoryMB = 256

// dynamoDataActions are the item-level calls the store package makes; no Scan, no table admin.
// A TransactWriteItems call is authorized per item (PutItem, UpdateItem, DeleteItem,
// ConditionCheckItem): IAM has no action of that name. The per-function sets are checked against
// the code by shared/stack's IAM test.
var dynamoDataActions = []string{
	"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
	"dynamodb:UpdateItem", "dynamodb:DeleteItem",
}

// without returns actions less the ones named.
func without(actions []string, drop ...string) []string {
	var out []string
	for _, a := range actions {
		if !slices.Contains(drop, a) {
			out = append(out, a)
		}
	}
	return out
}

// NewSendersStack defines the table, queues, HTTP API, functions, roles, log groups and alarms.
func NewSendersStack(scope constructs.Construct, id string, props *SendersStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)

	// ------------------------------------------------------------ parameters
	// Two secrets, so that each function holds only what it uses (template.yaml says why).
	secretArnPattern := jsii.String("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$")
	webhookSecretArn := awscdk.NewCfnParameter(stack, jsii.String("WebhookSecretArn"), &awscdk.CfnParameterProps{
		Type: jsii.String("String"),
		Description: jsii.String("ARN of the Secrets Manager secret the webhook reads: a JSON object with WHATSAPP_APP_SECRET " +
			"and WHATSAPP_VERIFY_TOKEN. Read once per cold start.\n"),
		AllowedPattern: secretArnPattern,
	}).ValueAsString()
	platformSecretArn := awscdk.NewCfnParameter(stack, jsii.String("PlatformSecretArn"), &awscdk.CfnParameterProps{
		Type: jsii.String("String"),
		Description: jsii.String("ARN of the Secrets Manager secret the Graph-calling functions read: a JSON object with " +
			"WHATSAPP_ACCESS_TOKEN and WHATSAPP_APP_ID, WHATSAPP_APP_SECRET for the Embedded Signup code exchange " +
			"(the senders and reconciler functions) and, with platform numbers on, TWILIO_ACCOUNT_SID and " +
			"TWILIO_AUTH_TOKEN. Read once per cold start.\n"),
		AllowedPattern: secretArnPattern,
	}).ValueAsString()
	// The names contain "Secret", but the values are ARNs, not secrets: no NoEcho needed.
	awscdk.Validations_Of(stack).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("CloudFormation-Validate::W2509"),
		Reason: jsii.String("WebhookSecretArn and PlatformSecretArn hold ARNs, not secret values"),
	})
	graphVersion := awscdk.NewCfnParameter(stack, jsii.String("GraphApiVersion"), &awscdk.CfnParameterProps{
		Type:        jsii.String("String"),
		Default:     jsii.String("v26.0"),
		Description: jsii.String("Pinned Graph API version used for every Graph call."),
	}).ValueAsString()
	graphBaseURL := awscdk.NewCfnParameter(stack, jsii.String("GraphApiBaseUrl"), &awscdk.CfnParameterProps{
		Type:        jsii.String("String"),
		Default:     jsii.String("https://graph.facebook.com"),
		Description: jsii.String("Graph API base URL (changed only for tests against a fake)."),
	}).ValueAsString()
	retention := awscdk.NewCfnParameter(stack, jsii.String("LogRetentionDays"), &awscdk.CfnParameterProps{
		Type: jsii.String("Number"),
		// A string, like AllowedValues: cfn-lint compares them as written (E2015).
		Default:       jsii.String("30"),
		AllowedValues: jsii.Strings("7", "14", "30", "60", "90", "180", "365"),
	}).ValueAsNumber()
	numberParams := newNumberParams(stack)
	alarmTopic := awscdk.NewCfnParameter(stack, jsii.String("AlarmTopicArn"), &awscdk.CfnParameterProps{
		Type:        jsii.String("String"),
		Default:     jsii.String(""),
		Description: jsii.String("SNS topic notified by the alarms (empty = the stack creates one; subscribe to it)."),
	}).ValueAsString()
	awscdk.NewCfnCondition(stack, jsii.String("HasAlarmTopic"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(alarmTopic, jsii.String(""))),
	})
	createTopic := awscdk.NewCfnCondition(stack, jsii.String("CreateAlarmTopic"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionEquals(alarmTopic, jsii.String("")),
	})

	// ------------------------------------------------------------ data
	table := awsdynamodb.NewTable(stack, jsii.String("SendersTable"), &awsdynamodb.TableProps{
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String("expiresAt"),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
		DeletionProtection: jsii.Bool(true),
	})
	// GSI1: senders of a WABA and the wamid lookup. GSI2: the sender list by status.
	for _, gsi := range []string{"1", "2"} {
		table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String("GSI" + gsi),
			PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String("gsi" + gsi + "pk"), Type: awsdynamodb.AttributeType_STRING},
			SortKey:        &awsdynamodb.Attribute{Name: jsii.String("gsi" + gsi + "sk"), Type: awsdynamodb.AttributeType_STRING},
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}

	// ------------------------------------------------------------ queues
	fourteenDays := awscdk.Duration_Days(jsii.Number(14))
	outboundDLQ := awssqs.NewQueue(stack, jsii.String("OutboundDLQ"), &awssqs.QueueProps{
		QueueName:       jsii.String(*awscdk.Aws_STACK_NAME() + "-outbound-dlq.fifo"),
		Fifo:            jsii.Bool(true),
		RetentionPeriod: fourteenDays,
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
	})
	outboundQueue := awssqs.NewQueue(stack, jsii.String("OutboundQueue"), &awssqs.QueueProps{
		QueueName:                 jsii.String(*awscdk.Aws_STACK_NAME() + "-outbound.fifo"),
		Fifo:                      jsii.Bool(true),
		ContentBasedDeduplication: jsii.Bool(false),
		// Six times OutboundFunction's timeout (30 s), as AWS advises for SQS event sources.
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(180)),
		RetentionPeriod:   fourteenDays,
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: outboundDLQ, MaxReceiveCount: jsii.Number(8)},
	})
	inboundDLQ := awssqs.NewQueue(stack, jsii.String("InboundDLQ"), &awssqs.QueueProps{
		QueueName:       jsii.String(*awscdk.Aws_STACK_NAME() + "-inbound-dlq.fifo"),
		Fifo:            jsii.Bool(true),
		RetentionPeriod: fourteenDays,
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
	})
	// FIFO: a group per conversation, and the wamid as deduplication id (template.yaml says why).
	inboundQueue := awssqs.NewQueue(stack, jsii.String("InboundQueue"), &awssqs.QueueProps{
		QueueName:                 jsii.String(*awscdk.Aws_STACK_NAME() + "-inbound.fifo"),
		Fifo:                      jsii.Bool(true),
		ContentBasedDeduplication: jsii.Bool(false),
		VisibilityTimeout:         awscdk.Duration_Seconds(jsii.Number(60)),
		RetentionPeriod:           fourteenDays,
		Encryption:                awssqs.QueueEncryption_SQS_MANAGED,
		DeadLetterQueue:           &awssqs.DeadLetterQueue{Queue: inboundDLQ, MaxReceiveCount: jsii.Number(5)},
	})

	// Business tokens and two-step PINs are sealed in the table under data keys this key wraps.
	credentialsKey := awskms.NewKey(stack, jsii.String("CredentialsKey"), &awskms.KeyProps{
		Description:       jsii.String("Wraps the data keys of business access tokens and two-step PINs."),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	credentialsAlias := awskms.NewAlias(stack, jsii.String("CredentialsKeyAlias"), &awskms.AliasProps{
		AliasName: jsii.String("alias/" + *awscdk.Aws_STACK_NAME() + "-credentials"),
		TargetKey: credentialsKey,
	})
	decryptCredentials := allow([]string{"kms:Decrypt"}, credentialsKey.KeyArn())

	// ------------------------------------------------------------ functions
	env := map[string]*string{
		"TABLE_NAME":               table.TableName(),
		"OUTBOUND_QUEUE_URL":       outboundQueue.QueueUrl(),
		"INBOUND_QUEUE_URL":        inboundQueue.QueueUrl(),
		"GRAPH_API_BASE_URL":       graphBaseURL,
		"GRAPH_API_VERSION":        graphVersion,
		"CREDENTIALS_KMS_KEY_ID":   credentialsAlias.AliasName(),
		"NUMBER_POOL_MODE":         numberParams.mode,
		"BUSINESS_PORTFOLIO_ID":    numberParams.portfolio,
		"CARRIER_WEBHOOK_BASE_URL": numberParams.webhookBase,
		"NUMBER_HOLD":              numberParams.hold,
		// Empty on purpose: declared so `sam local invoke --env-vars` can set them locally
		// (template.yaml says why); never given a value in AWS.
		"CREDENTIALS_LOCAL_KEY":     jsii.String(""),
		"AWS_ENDPOINT_URL_DYNAMODB": jsii.String(""),
		"AWS_ENDPOINT_URL_SQS":      jsii.String(""),
	}
	tableArns := []*string{table.TableArn(), jsii.String(*table.TableArn() + "/index/*")}
	// Each function's own secret, and the empty local override of each value it holds.
	webhookSecret := map[string]*string{"WEBHOOK_SECRET_ARN": webhookSecretArn,
		"WHATSAPP_APP_SECRET": jsii.String(""), "WHATSAPP_VERIFY_TOKEN": jsii.String("")}
	platformSecret := map[string]*string{"PLATFORM_SECRET_ARN": platformSecretArn,
		"WHATSAPP_ACCESS_TOKEN": jsii.String("")}
	// Onboarding (senders: the code exchange; reconciler: resumed onboardings) also reads the
	// app's id and secret, and platform numbers the carrier's credentials, from the platform secret.
	onboardingSecret := map[string]*string{"PLATFORM_SECRET_ARN": platformSecretArn,
		"WHATSAPP_ACCESS_TOKEN": jsii.String(""), "WHATSAPP_APP_SECRET": jsii.String(""), "WHATSAPP_APP_ID": jsii.String(""),
		"TWILIO_ACCOUNT_SID": jsii.String(""), "TWILIO_AUTH_TOKEN": jsii.String("")}
	readWebhookSecret := allow([]string{"secretsmanager:GetSecretValue"}, webhookSecretArn)
	readPlatformSecret := allow([]string{"secretsmanager:GetSecretValue"}, platformSecretArn)
	fns := map[string]awslambda.Function{}
	for _, spec := range []functionSpec{
		{
			id:          "WebhookFunction",
			description: "Meta webhook receiver (GET handshake, signed POSTs).",
			timeout:     10,
			// A webhook flood takes at most this many instances (template.yaml says why).
			reserved: 100,
			env:      webhookSecret,
			statements: []awsiam.PolicyStatement{
				allow(without(dynamoDataActions, "dynamodb:BatchGetItem"), tableArns...),
				allow([]string{"sqs:SendMessage"}, inboundQueue.QueueArn(), outboundQueue.QueueArn()),
				readWebhookSecret,
			},
		},
		{
			id:          "OutboundFunction",
			description: "Outbound consumer - decides free-form or template and sends through the Graph API.",
			timeout:     30,
			// Reserved at the event source's MaximumConcurrency.
			reserved: outboundMaxConcurrency,
			env:      platformSecret,
			statements: []awsiam.PolicyStatement{
				// ConditionCheckItem: the sent record's transaction checks that no status is waiting.
				allow(append(slices.Clone(dynamoDataActions), "dynamodb:ConditionCheckItem"), tableArns...),
				allow([]string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
					"sqs:ChangeMessageVisibility", "sqs:SendMessage"}, outboundQueue.QueueArn()),
				decryptCredentials,
				readPlatformSecret,
			},
		},
		{
			id:          "SendersFunction",
			description: "Sender admin API (IAM-authorized).",
			timeout:     20,
			env:         onboardingSecret,
			statements: []awsiam.PolicyStatement{
				allow(without(dynamoDataActions, "dynamodb:UpdateItem"), tableArns...),
				allow([]string{"sqs:SendMessage"}, outboundQueue.QueueArn()),
				allow([]string{"kms:GenerateDataKey", "kms:Decrypt"}, credentialsKey.KeyArn()),
				readPlatformSecret,
			},
		},
		{
			id:          "ReconcilerFunction",
			description: "Reconciles each sender with Meta's view of its phone number.",
			timeout:     300,
			env:         onboardingSecret,
			statements: []awsiam.PolicyStatement{
				allow([]string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, tableArns...),
				// Each run first re-enqueues the deferred outbound requests that are now due.
				allow([]string{"sqs:SendMessage"}, outboundQueue.QueueArn()),
				// Resumed onboardings open the exchanged token and seal the business's.
				allow([]string{"kms:GenerateDataKey", "kms:Decrypt"}, credentialsKey.KeyArn()),
				readPlatformSecret,
			},
		},
	} {
		fns[spec.id] = newFunction(stack, spec, props.RepoDir, env, retention)
	}

	// ------------------------------------------------------------ events
	api := awsapigatewayv2.NewHttpApi(stack, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName: awscdk.Aws_STACK_NAME(),
	})
	// Throttling and access logs on the $default stage (template.yaml says why). The L2 stage
	// has no per-route settings, hence the overrides.
	accessLogs := awslogs.NewLogGroup(stack, jsii.String("HttpApiAccessLogGroup"), &awslogs.LogGroupProps{
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	accessLogs.Node().DefaultChild().(awslogs.CfnLogGroup).SetRetentionInDays(retention)
	stage := api.DefaultStage().Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.SetDefaultRouteSettings(&awsapigatewayv2.CfnStage_RouteSettingsProperty{
		ThrottlingBurstLimit: jsii.Number(100),
		ThrottlingRateLimit:  jsii.Number(50),
	})
	stage.SetRouteSettings(map[string]any{
		// Detailed metrics: the route's own 4xx and Count feed WebhookRejectedRateAlarm.
		"POST /webhook": map[string]any{
			"ThrottlingBurstLimit":   2000,
			"ThrottlingRateLimit":    1000,
			"DetailedMetricsEnabled": true,
		},
		// The carrier's webhooks are public too, but carry only our numbers' verification
		// SMS and calls: a narrow bucket bounds what unsigned posts cost (template.yaml says why).
		"POST /carrier/sms":                 carrierThrottle(),
		"POST /carrier/voice":               carrierThrottle(),
		"POST /carrier/voice/transcription": carrierThrottle(),
	})
	stage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: accessLogs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})
	webhook := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("WebhookIntegration"), fns["WebhookFunction"], nil)
	api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:        jsii.String("/webhook"),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET, awsapigatewayv2.HttpMethod_POST},
		Integration: webhook,
	})
	admin := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("SendersIntegration"), fns["SendersFunction"], nil)
	iamAuth := awsapigatewayv2authorizers.NewHttpIamAuthorizer()
	for _, r := range []struct {
		path   string
		method awsapigatewayv2.HttpMethod
	}{
		{"/senders", awsapigatewayv2.HttpMethod_ANY},
		{"/senders/{proxy+}", awsapigatewayv2.HttpMethod_ANY},
		{"/messages", awsapigatewayv2.HttpMethod_ANY},
		{"/messages/{proxy+}", awsapigatewayv2.HttpMethod_ANY},
		{"/templates", awsapigatewayv2.HttpMethod_GET},
		{"/onboardings", awsapigatewayv2.HttpMethod_ANY},
		{"/onboardings/{proxy+}", awsapigatewayv2.HttpMethod_ANY},
		{"/businesses/{proxy+}", awsapigatewayv2.HttpMethod_ANY},
		{"/numbers", awsapigatewayv2.HttpMethod_ANY},
		{"/numbers/{proxy+}", awsapigatewayv2.HttpMethod_ANY},
	} {
		api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.path),
			Methods:     &[]awsapigatewayv2.HttpMethod{r.method},
			Integration: admin,
			Authorizer:  iamAuth,
		})
	}

	addCarrierRoutes(api, admin)

	fns["OutboundFunction"].AddEventSourceMapping(jsii.String("Outbound"), &awslambda.EventSourceMappingOptions{
		EventSourceArn:          outboundQueue.QueueArn(),
		BatchSize:               jsii.Number(10),
		ReportBatchItemFailures: jsii.Bool(true),
		// Caps concurrent sends so that Graph API rate limits, not Lambda, set the pace.
		MaxConcurrency: jsii.Number(outboundMaxConcurrency),
	})

	awsevents.NewRule(stack, jsii.String("ReconcilerFunctionSchedule"), &awsevents.RuleProps{
		Schedule: awsevents.Schedule_Expression(jsii.String("rate(15 minutes)")),
		Targets:  &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fns["ReconcilerFunction"], nil)},
	})

	// ------------------------------------------------------------ alarms
	// Every alarm notifies AlarmTopicArn, or this topic when none is given.
	topic := awssns.NewCfnTopic(stack, jsii.String("AlarmTopic"), &awssns.CfnTopicProps{
		DisplayName: jsii.String("wa-senders alarms"),
	})
	topic.CfnOptions().SetCondition(createTopic)
	// The synth-time schema check reads AlarmActions' Fn::If as an empty object; CloudFormation
	// (and cfn-lint, which make test runs on this template) resolve it to a one-topic list.
	awscdk.Validations_Of(stack).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("CloudFormation-Validate::F3033"),
		Reason: jsii.String("AlarmActions is Fn::If(HasAlarmTopic, [AlarmTopicArn], [AlarmTopic])"),
	})
	actions := awscdk.Token_AsList(awscdk.Fn_ConditionIf(jsii.String("HasAlarmTopic"),
		[]*string{alarmTopic}, []*string{topic.Ref()}), nil)
	alarm := func(id, description string, metric awscloudwatch.IMetric) {
		a := awscloudwatch.NewAlarm(stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			EvaluationPeriods:  jsii.Number(1),
			Threshold:          jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.Node().DefaultChild().(awscloudwatch.CfnAlarm).SetAlarmActions(actions)
	}
	minute := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(1)), Statistic: jsii.String("Maximum")}
	alarm("OutboundDLQDepthAlarm", "Messages in the outbound DLQ (sends that failed maxReceiveCount times).",
		outboundDLQ.MetricApproximateNumberOfMessagesVisible(minute))
	alarm("InboundDLQDepthAlarm", "Messages in the inbound DLQ (inbound events no consumer could take).",
		inboundDLQ.MetricApproximateNumberOfMessagesVisible(minute))
	sum := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}
	for _, id := range []string{"WebhookFunction", "OutboundFunction", "SendersFunction", "ReconcilerFunction"} {
		alarm(id+"ErrorsAlarm", id+" invocations failed.", fns[id].MetricErrors(sum))
		alarm(id+"ThrottlesAlarm", id+" invocations throttled.", fns[id].MetricThrottles(sum))
	}
	operationalAlarms(stack, api.ApiId(), outboundQueue, inboundQueue, []*string{alarmTopic}, []*string{topic.Ref()})

	// ------------------------------------------------------------ outputs
	output := func(id string, value *string, description string) {
		var d *string
		if description != "" {
			d = jsii.String(description)
		}
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: d})
	}
	output("WebhookUrl", jsii.String(*api.ApiEndpoint()+"/webhook"),
		"Callback URL to give Meta (App Dashboard > WhatsApp > Configuration).")
	output("ApiUrl", api.ApiEndpoint(), "Base URL of the IAM-authorized admin API.")
	output("OutboundQueueUrl", outboundQueue.QueueUrl(), "")
	output("InboundQueueUrl", inboundQueue.QueueUrl(), "")
	output("OutboundDLQUrl", outboundDLQ.QueueUrl(), "")
	output("InboundDLQUrl", inboundDLQ.QueueUrl(), "")
	output("TableName", table.TableName(), "")
	// The Fn::If's branches follow HasAlarmTopic and CreateAlarmTopic, which are complements.
	awscdk.Validations_Of(stack).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("CloudFormation-Validate::W1001"),
		Reason: jsii.String("AlarmTopic is referenced only in the branch where CreateAlarmTopic holds"),
	})
	output("AlarmsTopic", awscdk.Token_AsString(awscdk.Fn_ConditionIf(jsii.String("HasAlarmTopic"), alarmTopic, topic.Ref()), nil),
		"SNS topic the alarms notify.")

	return stack
}

// functionSpec is what differs between the four functions.
type functionSpec struct {
	id          string // construct id = SAM logical id; the Makefile target is build-<id>
	description string
	timeout     float64 // seconds
	reserved    float64 // reserved concurrency; 0: none
	env         map[string]*string
	statements  []awsiam.PolicyStatement
}

// newFunction creates a function with its own log group and its own role, which holds only
// spec.statements plus log writes to that group (X-Ray's write actions are added by the
// Function construct for active tracing).
func newFunction(stack awscdk.Stack, spec functionSpec, repoDir string, env map[string]*string, retention *float64) awslambda.Function {
	logGroup := awslogs.NewLogGroup(stack, jsii.String(logGroupID(spec.id)), &awslogs.LogGroupProps{
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	logGroup.Node().DefaultChild().(awslogs.CfnLogGroup).SetRetentionInDays(retention)

	role := awsiam.NewRole(stack, jsii.String(spec.id+"Role"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
	logGroup.GrantWrite(role)
	for _, st := range spec.statements {
		role.AddToPolicy(st)
	}
	fnEnv := map[string]*string{}
	for k, v := range env {
		fnEnv[k] = v
	}
	for k, v := range spec.env {
		fnEnv[k] = v
	}
	var reserved *float64
	if spec.reserved > 0 {
		reserved = jsii.Number(spec.reserved)
	}

	fn := awslambda.NewFunction(stack, jsii.String(spec.id), &awslambda.FunctionProps{
		Description:  jsii.String(spec.description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code: awslambda.Code_FromAsset(jsii.String(repoDir), &awss3assets.AssetOptions{
			// Hash the built bootstrap, not the repository.
			AssetHashType: awscdk.AssetHashType_OUTPUT,
			Bundling: &awscdk.BundlingOptions{
				// Used only when the local build below declines; the same make target runs.
				Image:       awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang:1.26")),
				Command:     jsii.Strings("make", "build-"+spec.id),
				Environment: &map[string]*string{"ARTIFACTS_DIR": jsii.String("/asset-output")},
				Local:       &makeBuild{repoDir: repoDir, target: "build-" + spec.id},
			},
		}),
		MemorySize:                   jsii.Number(memoryMB),
		Timeout:                      awscdk.Duration_Seconds(jsii.Number(spec.timeout)),
		Tracing:                      awslambda.Tracing_ACTIVE,
		LoggingFormat:                awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2:        awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:             awslambda.SystemLogLevel_WARN,
		LogGroup:                     logGroup,
		Role:                         role,
		Environment:                  &fnEnv,
		ReservedConcurrentExecutions: reserved,
	})
	// The construct's DependsOn names the role, which the Role GetAtt already implies (cfn-lint
	// W3005); only the wait for the role's policy is needed.
	policy := role.Node().TryFindChild(jsii.String("DefaultPolicy")).Node().DefaultChild().(awscdk.CfnResource)
	fn.Node().DefaultChild().(awscdk.CfnResource).AddOverride(jsii.String("DependsOn"), []*string{stack.GetLogicalId(policy)})
	return fn
}

// logGroupID names a function's log group as template.yaml does (WebhookFunction -> WebhookLogGroup).
func logGroupID(functionID string) string {
	return functionID[:len(functionID)-len("Function")] + "LogGroup"
}

// allow is an Allow statement on the given resources (never "*": callers pass ARNs).
func allow(actions []string, resources ...*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

// makeBuild builds a function with the repository Makefile, as `sam build` does for
// BuildMethod: makefile (same target, ARTIFACTS_DIR in the environment).
type makeBuild struct {
	repoDir string
	target  string
}

// TryBundle runs `make <target>` into outputDir. It reports false (so that the CDK falls back to
// the Docker image) only after printing why the local build failed.
func (m *makeBuild) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	cmd := exec.Command("make", "-C", m.repoDir, m.target)
	cmd.Env = append(os.Environ(), "ARTIFACTS_DIR="+*outputDir)
	cmd.Stdout = os.Stderr // stdout belongs to the CDK protocol
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "infra: make %s: %v\n", m.target, err)
		return jsii.Bool(false)
	}
	return jsii.Bool(true)
}
