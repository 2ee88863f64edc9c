/**
 * `GET /docs`: Swagger UI for `GET /openapi.json`, working offline. The page's script and style come
 * from the npm package `swagger-ui-dist` (the official build of Swagger UI) and are served by this API
 * under `/docs/assets/`; nothing is loaded from a CDN, the online spec validator is switched off, and
 * the page's Content-Security-Policy lets the browser load scripts, styles and data from this origin only.
 */
import path from 'node:path';
import type { RequestHandler } from 'express';

/** Where the assets are served (a prefix of `/docs`, mounted as middleware, not as API routes). */
export const DOCS_ASSETS_PATH = '/docs/assets';

/** Directory of the installed swagger-ui-dist package. */
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** The only files served from swagger-ui-dist, with their content types. */
const SWAGGER_UI_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

/** Starts Swagger UI on the document; a file of its own so the page needs no inline script. */
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Task-provisioning service API</title>
    <link rel="stylesheet" href="${DOCS_ASSETS_PATH}/swagger-ui.css" />
    <link rel="icon" type="image/png" href="${DOCS_ASSETS_PATH}/favicon-32x32.png" sizes="32x32" />
    <link rel="icon" type="image/png" href="${DOCS_ASSETS_PATH}/favicon-16x16.png" sizes="16x16" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${DOCS_ASSETS_PATH}/swagger-ui-bundle.js"></script>
    <script src="${DOCS_ASSETS_PATH}/init.js"></script>
  </body>
</html>
`;

/** Scripts, styles, fonts and requests from this origin only (Swagger UI sets inline styles and uses data: images). */
const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/** `GET /docs`: the HTML page. */
export const docsPage: RequestHandler = (_req, res) => {
  res.set('Content-Security-Policy', CONTENT_SECURITY_POLICY).type('html').send(PAGE);
};

/**
 * Middleware for {@link DOCS_ASSETS_PATH}: `init.js` and the listed swagger-ui-dist files on GET/HEAD;
 * anything else goes on (and ends as 404 `route_not_found`).
 */
export const docsAssets: RequestHandler = (req, res, next) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') return next();
  const name = req.path.replace(/^\//, '');
  if (name === 'init.js') {
    res.type('text/javascript; charset=utf-8').send(INIT_SCRIPT);
    return;
  }
  const type = SWAGGER_UI_FILES[name];
  if (!type) return next();
  res.type(type).sendFile(path.join(SWAGGER_UI_DIR, name), { maxAge: '1h' }, (err) => {
    if (err) next(err);
  });
};
