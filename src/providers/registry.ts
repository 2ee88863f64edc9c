/** The sandbox providers this deployment offers, by id. */
import type { AppConfig } from '../config';
import type { Logger } from '../logger';
import { LOCAL_PROVIDER_ID, LocalProvider } from './local/localProvider';
import type { ProviderRegistry } from './types';

/** Provider ids the API accepts in `POST /v1/tasks` (`provider`). */
export const PROVIDER_IDS: readonly string[] = [LOCAL_PROVIDER_ID];

export function createProviders(config: Pick<AppConfig, 'sandboxRoot'>, logger: Logger): ProviderRegistry {
  return new Map([[LOCAL_PROVIDER_ID, new LocalProvider({ sandboxRoot: config.sandboxRoot, logger: logger.child({ provider: LOCAL_PROVIDER_ID }) })]]);
}
