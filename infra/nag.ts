// cdk-nag is CommonJS built by jsii; ESM takes its names from the default export.
import cdkNag from 'cdk-nag';

export const { NagSuppressions, AwsSolutionsChecks } = cdkNag;
