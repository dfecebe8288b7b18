import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { contentSecurityPolicy } from 'helmet';

/**
 * The page loads its own script, stylesheet and audio worklet from this origin and talks to this origin only:
 * REST with fetch, the live gateway over a WebSocket (CSP Level 3 `'self'` covers ws: and wss: on the same host).
 * No inline script or style, no framing. No `upgrade-insecure-requests`: a development service answers on plain HTTP.
 */
export const WEB_CLIENT_CONTENT_SECURITY_POLICY: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'worker-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'media-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Asset names carry a content hash (`app-3FQ2K7ZL.js`): a changed file is a new name, so they never go stale. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The page itself is checked on every load, so a new build's asset names are picked up at once. */
const REVALIDATE = 'no-cache';

interface WebFile {
  body: Buffer;
  contentType: string;
  cacheControl: string;
}

/** `dist/web` of this checkout: built by `npm run build` (scripts/build-web.mjs). */
export function defaultWebClientDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) {
      break;
    }
    dir = parent;
  }
  return join(dir, 'dist', 'web');
}

/**
 * Serves the built web client at `/`: `index.html` and the files beside it, read once at start, for GET and HEAD.
 * Only the names found there are served (no path is ever joined from a request). Any other request goes on to
 * the API's routes; without a build the middleware serves nothing.
 */
export function webClient(directory = defaultWebClientDirectory()): RequestHandler {
  const files = readWebFiles(directory);
  const policy = contentSecurityPolicy({ useDefaults: false, directives: WEB_CLIENT_CONTENT_SECURITY_POLICY });
  return (request: Request, response: Response, next: NextFunction) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      next();
      return;
    }
    const file = files.get(request.path === '/' ? '/index.html' : request.path);
    if (file === undefined) {
      next();
      return;
    }
    policy(request, response, (error?: unknown) => {
      if (error !== undefined) {
        next(error);
        return;
      }
      response.setHeader('Content-Type', file.contentType);
      response.setHeader('Cache-Control', file.cacheControl);
      response.setHeader('Content-Length', String(file.body.length));
      response.status(200);
      response.end(request.method === 'HEAD' ? undefined : file.body);
    });
  };
}

function readWebFiles(directory: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  if (!existsSync(directory)) {
    return files;
  }
  for (const name of readdirSync(directory)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType === undefined) {
      continue;
    }
    files.set(`/${name}`, {
      body: readFileSync(join(directory, name)),
      contentType,
      cacheControl: name === 'index.html' ? REVALIDATE : IMMUTABLE,
    });
  }
  return files;
}
