import { METHODS } from 'node:http';
import { type INestApplication, MethodNotAllowedException } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** The parts of Express's router read here: its route layers, each with a path matcher and the methods it serves. */
interface RouteLayer {
  route?: { methods: Record<string, boolean | undefined> };
  match(path: string): unknown;
}

/**
 * A request for a path the service routes, with a method none of its routes serves, is a 405 with an `Allow` header
 * listing the methods that path does serve (RFC 9110, section 15.5.6); a path no route matches falls through to the 404.
 * The routes are read at each request from the application's router, so routes added after start count too. A route
 * for every method is a catch-all (Nest's middleware bindings and its 404 handler), which says nothing of the path.
 */
export function methodNotAllowed(app: INestApplication): RequestHandler {
  const router = () => (app.getHttpAdapter().getInstance() as { router: { stack: RouteLayer[] } }).router;
  return (request: Request, response: Response, next: NextFunction) => {
    const allowed = allowedMethods(router().stack, request.path);
    if (allowed.length === 0 || allowed.includes(request.method)) {
      next();
      return;
    }
    response.setHeader('Allow', allowed.join(', '));
    next(new MethodNotAllowedException(`${request.method} is not allowed on ${request.path}; allowed: ${allowed.join(', ')}`));
  };
}

/** The methods the routes matching `path` serve, catch-alls aside. */
function allowedMethods(stack: RouteLayer[], path: string): string[] {
  const methods = new Set<string>();
  for (const layer of stack) {
    const served = layer.route?.methods;
    if (served === undefined || isCatchAll(served) || layer.match(path) === false) {
      continue;
    }
    for (const [method, serves] of Object.entries(served)) {
      if (serves === true) {
        methods.add(method.toUpperCase());
      }
    }
  }
  // Express answers HEAD with the GET route.
  if (methods.has('GET')) {
    methods.add('HEAD');
  }
  return [...methods].sort();
}

function isCatchAll(served: Record<string, boolean | undefined>): boolean {
  return served._all === true || METHODS.every((method) => served[method.toLowerCase()] === true);
}
