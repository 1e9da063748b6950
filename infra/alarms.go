package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// outboundMaxConcurrency is the outbound event source's MaximumConcurrency and the outbound
// function's reserved concurrency (template.yaml; shared/app's test ties the consumer's pacing
// to template.yaml, and the drift test ties this to template.yaml).
const outboundMaxConcurrency = 10

// accessLogFormat is the HTTP API's access log line (template.yaml's AccessLogSettings.Format).
const accessLogFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
	`"requestTime":"$context.requestTime","routeKey":"$context.routeKey","status":"$context.status",` +
	`"responseLength":"$context.responseLength","integrationStatus":"$context.integrationStatus",` +
	`"integrationError":"$context.integrationErrorMessage","latency":"$context.responseLatency"}`

// emfAlarm is an alarm on one of the functions' EMF counters (namespace WaSenders, dimension
// Function), as template.yaml declares them.
type emfAlarm struct {
	id, description, function, metric string
	period, threshold                 float64
}

var emfAlarms = []emfAlarm{
	{"WebhookNotAppliedAlarm", "Webhook POSTs not applied (answered 500; Meta retries them).", "webhook", "NotApplied", 300, 5},
	{"WebhookParkedAlarm", "Webhook payloads parked (verified but not understood - a Graph change or a bug).", "webhook", "ParkedPayloads", 300, 1},
	{"WebhookUnknownSendersAlarm", "Webhook events for phone numbers no sender holds.", "webhook", "UnknownSenders", 900, 10},
	{"OutboundDeadLetteredAlarm", "Outbound requests ended as dead letters.", "outbound", "DeadLettered", 300, 1},
	{"OutboundGraphErrorsAlarm", "Graph API send errors (any class; see GraphErrors_<class>).", "outbound", "GraphErrors", 300, 20},
	{"OutboundGraphAuthErrorsAlarm", "Graph API refused the access token (expired or revoked).", "outbound", "GraphErrors_token_invalid", 300, 1},
	{"OutboundRefusedAlarm", "Outbound requests refused (see Refused_<reason>).", "outbound", "Refused", 900, 50},
}

// operationalAlarms adds the alarms on what does fail in production: the HTTP API's 5xx and
// /webhook's 4xx rate, the EMF counters, and the age of the queues' oldest message.
func operationalAlarms(stack awscdk.Stack, apiID *string, outboundQueue, inboundQueue awssqs.Queue, actionsIfGiven, actionsIfCreated []*string) {
	cfn := func(id string, p *awscloudwatch.CfnAlarmProps) {
		p.EvaluationPeriods = jsii.Number(1)
		p.TreatMissingData = jsii.String("notBreaching")
		if p.ComparisonOperator == nil {
			p.ComparisonOperator = jsii.String("GreaterThanOrEqualToThreshold")
		}
		a := awscloudwatch.NewCfnAlarm(stack, jsii.String(id), p)
		a.AddPropertyOverride(jsii.String("AlarmActions"),
			awscdk.Fn_ConditionIf(jsii.String("HasAlarmTopic"), actionsIfGiven, actionsIfCreated))
	}
	dim := func(name string, value *string) *awscloudwatch.CfnAlarm_DimensionProperty {
		return &awscloudwatch.CfnAlarm_DimensionProperty{Name: jsii.String(name), Value: value}
	}
	cfn("HttpApi5xxAlarm", &awscloudwatch.CfnAlarmProps{
		AlarmDescription: jsii.String("HTTP API answered 5xx (webhook not applied, admin call failed, or Lambda throttled). Runbook in README."),
		Namespace:        jsii.String("AWS/ApiGateway"),
		MetricName:       jsii.String("5xx"),
		Dimensions:       &[]any{dim("ApiId", apiID), dim("Stage", jsii.String("$default"))},
		Statistic:        jsii.String("Sum"),
		Period:           jsii.Number(300),
		Threshold:        jsii.Number(5),
	})
	route := &[]any{dim("ApiId", apiID), dim("Stage", jsii.String("$default")),
		dim("Method", jsii.String("POST")), dim("Resource", jsii.String("/webhook"))}
	stat := func(id, metric string) *awscloudwatch.CfnAlarm_MetricDataQueryProperty {
		return &awscloudwatch.CfnAlarm_MetricDataQueryProperty{
			Id:         jsii.String(id),
			ReturnData: jsii.Bool(false),
			MetricStat: &awscloudwatch.CfnAlarm_MetricStatProperty{
				Metric: &awscloudwatch.CfnAlarm_MetricProperty{
					Namespace: jsii.String("AWS/ApiGateway"), MetricName: jsii.String(metric), Dimensions: route,
				},
				Period: jsii.Number(300),
				Stat:   jsii.String("Sum"),
			},
		}
	}
	cfn("WebhookRejectedRateAlarm", &awscloudwatch.CfnAlarmProps{
		AlarmDescription: jsii.String("More than 10% of POST /webhook answered 4xx (bad signatures, oversized bodies). Runbook in README."),
		Metrics: &[]any{
			&awscloudwatch.CfnAlarm_MetricDataQueryProperty{
				Id:         jsii.String("rate"),
				Expression: jsii.String("IF(requests >= 20, 100 * rejected / requests, 0)"),
				Label:      jsii.String("POST /webhook 4xx %"),
				ReturnData: jsii.Bool(true),
			},
			stat("rejected", "4xx"),
			stat("requests", "Count"),
		},
		Threshold:          jsii.Number(10),
		ComparisonOperator: jsii.String("GreaterThanThreshold"),
	})
	for _, a := range emfAlarms {
		cfn(a.id, &awscloudwatch.CfnAlarmProps{
			AlarmDescription: jsii.String(a.description + " Runbook in README."),
			Namespace:        jsii.String("WaSenders"),
			MetricName:       jsii.String(a.metric),
			Dimensions:       &[]any{dim("Function", jsii.String(a.function))},
			Statistic:        jsii.String("Sum"),
			Period:           jsii.Number(a.period),
			Threshold:        jsii.Number(a.threshold),
		})
	}
	for _, q := range []struct {
		id, description string
		queue           awssqs.Queue
		threshold       float64
	}{
		{"OutboundQueueAgeAlarm", "Oldest outbound request waits over 15 minutes.", outboundQueue, 900},
		{"InboundQueueAgeAlarm", "Oldest inbound message waits over 1 hour (assistants not reading).", inboundQueue, 3600},
	} {
		cfn(q.id, &awscloudwatch.CfnAlarmProps{
			AlarmDescription: jsii.String(q.description + " Runbook in README."),
			Namespace:        jsii.String("AWS/SQS"),
			MetricName:       jsii.String("ApproximateAgeOfOldestMessage"),
			Dimensions:       &[]any{dim("QueueName", q.queue.QueueName())},
			Statistic:        jsii.String("Maximum"),
			Period:           jsii.Number(300),
			Threshold:        jsii.Number(q.threshold),
		})
	}
}
