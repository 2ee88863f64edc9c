/** The sandbox providers this deployment offers, by id. */
import type { AppConfig } from '../config';
import type { Logger } from '../logger';
import { INSTANT_PROVIDER_ID, InstantProvider, SLOW_PROVIDER_ID } from './instant/instantProvider';
import { LOCAL_PROVIDER_ID, LocalProvider } from './local/localProvider';
import type { ProviderRegistry, SandboxProvider } from './types';
import { egressSocketPath } from './local/layout';

/** Provider ids the API accepts in `POST /v1/tasks` (`provider`). */
export function providerIds(config: Pick<AppConfig, 'benchmarkProviders'>): string[] {
  return config.benchmarkProviders.enabled ? [LOCAL_PROVIDER_ID, INSTANT_PROVIDER_ID, SLOW_PROVIDER_ID] : [LOCAL_PROVIDER_ID];
}

export function createProviders(config: Pick<AppConfig, 'sandboxRoot' | 'benchmarkProviders' | 'confinement' | 'repositoryPolicy'>, logger: Logger): ProviderRegistry {
  const providers: SandboxProvider[] = [
    new LocalProvider({
      sandboxRoot: config.sandboxRoot,
      logger: logger.child({ provider: LOCAL_PROVIDER_ID }),
      confinement: config.confinement,
      repositoryPolicy: config.repositoryPolicy,
      egressSocket: egressSocketPath(config.sandboxRoot),
    }),
  ];
  if (config.benchmarkProviders.enabled) {
    providers.push(new InstantProvider(config.benchmarkProviders.delayMs), new InstantProvider(config.benchmarkProviders.slowDelayMs, SLOW_PROVIDER_ID));
  }
  return new Map(providers.map((p) => [p.id, p]));
}
