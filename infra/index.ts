/**
 * The homeostat package: Homeostat (the whole system in any stack of your
 * app), HomeostatStack (a stack holding just it), WatchedService (an ECS
 * service Homeostat watches, in any stack or app of the account and region),
 * and the types of their props and settings.
 */
export { ServiceRegistry } from './constructs/service-registry.ts';
export {
  type RegistrationTarget,
  type WatchedEcsServiceProps,
  WatchedService,
  type WatchedServiceProps,
  type WatchedServiceRegistration,
} from './constructs/watched-service.ts';
export { Homeostat, type HomeostatProps } from './lib/homeostat.ts';
export { HomeostatStack, type HomeostatStackProps } from './lib/homeostat-stack.ts';
export type { DiagnosisSettings, HomeostatSettings } from './lib/settings.ts';
