// The runtime's public surface, for the controllers and main.
export { type Cancel, type Clock, FakeClock, realClock, sleep } from './clock.ts';
export {
  describeError,
  errorMessage,
  isTerminalError,
  type SafeError,
  TerminalError,
} from './errors.ts';
export { type Check, HealthChecks } from './http.ts';
export { type EventHandlers, Informer, type KubeObject, parseKubeObject } from './informer.ts';
export {
  isApiError,
  KubeConfigError,
  KubeHttpError,
  loadKubeConfig,
  ownNamespace,
} from './kube.ts';
export { LeaderElector, type LeaseStore } from './leader.ts';
export { type ResourceType, resourcePath } from './listwatch.ts';
export {
  createLogger,
  forResource,
  keyString,
  type Logger,
  type ObjectKey,
  redactDeep,
} from './logger.ts';
export { type InformerRequest, Manager, type ManagerExit } from './manager.ts';
export { createMetrics, METRIC_PREFIX, type RuntimeMetrics } from './metrics.ts';
export { type HandlerResult, WorkQueue } from './queue.ts';
export {
  Controller,
  type KeyMapper,
  objectKeyOf,
  parseKey,
  type ReconcileContext,
  type Reconciler,
  type Result,
} from './reconciler.ts';
