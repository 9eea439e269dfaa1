import { AWS_IOT_LOG_GROUP } from '@iot-custom-auth/protocol';
import type { LoadedOutputs } from '../outputs';
import type { LogGroupRef } from './log-search';

/**
 * Where the records of a refusal are: the authorizer Lambda's log group (its stack output) and AWS IoT's,
 * in that order; without that output (a stack from before it), only AWS IoT's. Without outputs (the upstream
 * sample's `--endpoint` and `--custom_auth_*` flags, which promise that no AWS API is called), none.
 */
export function refusalLogGroups(outputs: LoadedOutputs | undefined): LogGroupRef[] {
  if (outputs === undefined) return [];
  const authorizer = outputs.values.authorizerLogGroupName;
  return [
    ...(authorizer === undefined ? [] : [{ name: authorizer, kind: 'authorizer' as const }]),
    { name: AWS_IOT_LOG_GROUP, kind: 'iot' },
  ];
}
