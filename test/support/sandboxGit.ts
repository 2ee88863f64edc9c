/**
 * simple-git for a test that reads a sandbox's checkout from the host. The checkout belongs to the
 * sandboxes' unprivileged uid, so git's ownership check (safe.directory) refuses it to root: tests
 * inspect it anyway; the service itself never runs host git there (docs/SECURITY.md#host-trust).
 */
import { simpleGit, type SimpleGit } from 'simple-git';

export function sandboxGit(dir: string): SimpleGit {
  return simpleGit(dir, { config: ['safe.directory=*'] });
}
