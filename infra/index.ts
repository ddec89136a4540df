export {
  WatchedService,
  type WatchedServiceProps,
  type WatchedServiceRegistration,
} from './constructs/watched-service.ts';
export { Homeostat, type HomeostatProps } from './lib/homeostat.ts';
export { HomeostatStack, type HomeostatStackProps } from './lib/homeostat-stack.ts';
export type { DiagnosisSettings, HomeostatSettings } from './lib/settings.ts';
