/**
 * The workbench page (web/, a Vite + React single-page app built into web/dist): `GET /` and
 * `GET /tasks/:id` answer its index.html, and its hashed scripts and styles are served under
 * `/assets/`. The page talks to this API only through the typed client (client/); it asks the user
 * for a bearer token and keeps it in the browser, so these routes need none.
 *
 * Until the page is built (`npm run build:web`, run by the start and test commands) both routes answer
 * 503 `workbench_not_built` with `Retry-After`. The page's Content-Security-Policy allows scripts,
 * styles, images and connections (REST and the Socket.IO websocket) to this origin only.
 */
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { HttpError } from './errors';

/** Where `npm run build:web` writes the page (web/vite.config.mts). */
export const DEFAULT_WORKBENCH_DIR = path.resolve(__dirname, '../../web/dist');

/** Where the page's hashed files are served (Vite's `build.assetsDir`). */
export const WORKBENCH_ASSETS_PATH = '/assets';

const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The page's handler (for `GET /` and `GET /tasks/:id`) and its assets middleware, serving `dir` (default
 * {@link DEFAULT_WORKBENCH_DIR}). index.html is read on each request (no cache: a rebuild shows at once);
 * assets carry content hashes and are cached for a year. An asset that is not there goes on to 404.
 */
export function workbenchPage(dir = DEFAULT_WORKBENCH_DIR): { page: RequestHandler; assets: RequestHandler } {
  const index = path.join(dir, 'index.html');
  const page: RequestHandler = (_req, res, next) => {
    // No existence check first: a missing index.html is sendFile's ENOENT, answered as not built.
    res.sendFile(index, { headers: { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Cache-Control': 'no-cache' } }, (err) => {
      if (!err) return;
      const notBuilt = (err as NodeJS.ErrnoException).code === 'ENOENT';
      next(notBuilt ? new HttpError(503, 'workbench_not_built', 'The workbench page has not been built; run npm run build:web.', undefined, undefined, 30) : err);
    });
  };
  const assets = express.static(path.join(dir, 'assets'), { index: false, immutable: true, maxAge: '365d', fallthrough: true, redirect: false });
  return { page, assets };
}
