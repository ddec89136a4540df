/**
 * Stand-in for @aws-sdk/credential-provider-node inside Lambda bundles (an
 * esbuild alias, see infra/bundling.ts). Lambda always hands the function its
 * role's credentials in environment variables, so the SSO, profile, web
 * identity and IMDS providers of the default chain — ~90 KB of every bundle —
 * can never apply there. Tests and scripts outside Lambda keep the full chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);
