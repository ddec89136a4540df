/**
 * Example events exactly as AWS's documentation prints them, for tests that must hold
 * against what AWS says it sends rather than against our own builders. Where a page shows
 * a snippet (`...` standing for the fields it leaves out), the fields it shows are kept as
 * printed and the ellipsis is dropped; nothing is added — so several of these lack `time`
 * and `region`, as on the page.
 */

/**
 * CloudWatch User Guide, "Alarm events and EventBridge" — "State change for a composite
 * alarm with a suppressor alarm".
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
 */
export const compositeAlarmSuppressedEvent = {
  version: '0',
  id: 'd3dfc86d-384d-24c8-0345-9f7986db0b80',
  'detail-type': 'CloudWatch Alarm State Change',
  source: 'aws.cloudwatch',
  account: '123456789012',
  time: '2022-07-22T15:57:45Z',
  region: 'us-east-1',
  resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServiceAggregatedAlarm'],
  detail: {
    alarmName: 'ServiceAggregatedAlarm',
    state: {
      actionsSuppressedBy: 'WaitPeriod',
      actionsSuppressedReason: 'Actions suppressed by WaitPeriod',
      value: 'ALARM',
      reason:
        'arn:aws:cloudwatch:us-east-1:123456789012:alarm:SuppressionDemo.EventBridge.FirstChild transitioned to ALARM at Friday 22 July, 2022 15:57:45 UTC',
      reasonData:
        '{"triggeringAlarms":[{"arn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh","state":{"value":"ALARM","timestamp":"2022-07-22T15:57:45.394+0000"}}]}',
      timestamp: '2022-07-22T15:57:45.394+0000',
    },
    previousState: {
      value: 'OK',
      reason:
        'arn:aws:cloudwatch:us-east-1:123456789012:alarm:SuppressionDemo.EventBridge.Main was created and its alarm rule evaluates to OK',
      reasonData:
        '{"triggeringAlarms":[{"arn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:TotalNetworkTrafficTooHigh","state":{"value":"OK","timestamp":"2022-07-14T16:28:57.770+0000"}},{"arn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh","state":{"value":"OK","timestamp":"2022-07-14T16:28:54.191+0000"}}]}',
      timestamp: '2022-07-22T15:56:14.552+0000',
    },
    configuration: {
      alarmRule: 'ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)',
      actionsSuppressor: 'ServiceMaintenanceAlarm',
      actionsSuppressorWaitPeriod: 120,
      actionsSuppressorExtensionPeriod: 180,
    },
  },
};

/**
 * Amazon ECS Developer Guide, "AWS Fargate capacity providers" — "Handling Fargate Spot
 * termination notices": the task state change snippet with the stopped reason and stop
 * code of a Fargate Spot interruption (no `time`, no `region`).
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-capacity-providers.html
 */
export const fargateSpotInterruptionEvent = {
  version: '0',
  id: '9bcdac79-b31f-4d3d-9410-fbd727c29fab',
  'detail-type': 'ECS Task State Change',
  source: 'aws.ecs',
  account: '111122223333',
  resources: ['arn:aws:ecs:us-east-1:111122223333:task/b99d40b3-5176-4f71-9a52-9dbd6f1cebef'],
  detail: {
    clusterArn: 'arn:aws:ecs:us-east-1:111122223333:cluster/default',
    createdAt: '2016-12-06T16:41:05.702Z',
    desiredStatus: 'STOPPED',
    lastStatus: 'RUNNING',
    stoppedReason: 'Your Spot Task was interrupted.',
    stopCode: 'SpotInterruption',
    taskArn: 'arn:aws:ecs:us-east-1:111122223333:task/b99d40b3-5176-4f71-9a52-9dbd6fEXAMPLE',
  },
};

/**
 * The same snippet as the guide printed it before the stop code was renamed
 * (awsdocs/amazon-ecs-developer-guide, doc_source/fargate-capacity-providers.md):
 * stop code `TerminationNotice`.
 */
export const fargateSpotTerminationNoticeEvent = {
  ...fargateSpotInterruptionEvent,
  detail: { ...fargateSpotInterruptionEvent.detail, stopCode: 'TerminationNotice' },
};

/**
 * Amazon ECS Developer Guide, "Amazon ECS service action events" — "Service task placement
 * failure event": a task that could not get any Fargate Spot capacity (not an interruption).
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_events.html
 */
export const fargateSpotPlacementFailureEvent = {
  version: '0',
  id: 'ddca6449-b258-46c0-8653-e0e3a6d0468b',
  'detail-type': 'ECS Service Action',
  source: 'aws.ecs',
  account: '111122223333',
  time: '2019-11-19T19:55:38Z',
  region: 'us-west-2',
  resources: ['arn:aws:ecs:us-west-2:111122223333:service/default/servicetest'],
  detail: {
    eventType: 'ERROR',
    eventName: 'SERVICE_TASK_PLACEMENT_FAILURE',
    clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/default',
    capacityProviderArns: ['arn:aws:ecs:us-west-2:111122223333:capacity-provider/FARGATE_SPOT'],
    reason: 'RESOURCE:FARGATE',
    createdAt: '2019-11-06T19:09:33.087Z',
  },
};

/**
 * Amazon ECS Developer Guide, "Amazon ECS service action events" — "Service steady state
 * event". The service scheduler reports it periodically while the service stays steady.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_events.html
 */
export const serviceSteadyStateEvent = {
  version: '0',
  id: 'af3c496d-f4a8-65d1-70f4-a69d52e9b584',
  'detail-type': 'ECS Service Action',
  source: 'aws.ecs',
  account: '111122223333',
  time: '2019-11-19T19:27:22Z',
  region: 'us-west-2',
  resources: ['arn:aws:ecs:us-west-2:111122223333:service/default/servicetest'],
  detail: {
    eventType: 'INFO',
    eventName: 'SERVICE_STEADY_STATE',
    clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/default',
    createdAt: '2019-11-19T19:27:22.695Z',
  },
};

/**
 * Amazon ECS Developer Guide, "Amazon ECS deployment state change events" — "Service
 * deployment completed event" (it names the deployment, not the task definition).
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_deployment_events.html
 */
export const serviceDeploymentCompletedEvent = {
  version: '0',
  id: 'ddca6449-b258-46c0-8653-e0e3aEXAMPLE',
  'detail-type': 'ECS Deployment State Change',
  source: 'aws.ecs',
  account: '111122223333',
  time: '2020-05-23T12:31:14Z',
  region: 'us-west-2',
  resources: ['arn:aws:ecs:us-west-2:111122223333:service/default/servicetest'],
  detail: {
    eventType: 'INFO',
    eventName: 'SERVICE_DEPLOYMENT_COMPLETED',
    deploymentId: 'ecs-svc/123',
    updatedAt: '2020-05-23T11:11:11Z',
    reason: 'ECS deployment deploymentID completed.',
  },
};
