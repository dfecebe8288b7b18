import helmet, { contentSecurityPolicy } from 'helmet';

type ContentSecurityPolicy = Record<string, string[]>;

/** JSON and Prometheus text load nothing, so the API's policy allows nothing and forbids framing. */
const API_CONTENT_SECURITY_POLICY: ContentSecurityPolicy = {
  'default-src': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/**
 * Swagger UI loads its scripts and stylesheet from this origin, styles itself with inline <style>
 * blocks and attributes, shows data: images, and sends "Try it out" requests to this origin.
 * No `upgrade-insecure-requests`: a development service answers on plain HTTP.
 */
const DOCS_CONTENT_SECURITY_POLICY: ContentSecurityPolicy = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/** Helmet's headers on every response, without `X-Powered-By`, with the API's content security policy. */
export function securityHeaders() {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: API_CONTENT_SECURITY_POLICY },
    xFrameOptions: { action: 'deny' },
  });
}

/** Replaces the API's policy on the Swagger UI's page and assets. */
export function docsContentSecurityPolicy() {
  return contentSecurityPolicy({ useDefaults: false, directives: DOCS_CONTENT_SECURITY_POLICY });
}
