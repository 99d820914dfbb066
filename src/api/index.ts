// The custom resources of secrets-manager-operator: zod schemas (the single source of truth for
// the CRDs in crds/), their types, parse helpers for controllers, and small pure helpers that
// pin down what the fields mean.
export * from './clusterexternalsecret.ts';
export * from './common.ts';
export * from './conditions.ts';
export * from './duration.ts';
export * from './externalsecret.ts';
export * from './group.ts';
export * from './iamcredentiallease.ts';
export * from './parse.ts';
export * from './schedule.ts';
export * from './selector.ts';
export * from './store.ts';
export * from './store-auth.ts';
