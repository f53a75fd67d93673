import type { Config } from "../config";

export interface OriginIssue {
  path: (string | number)[];
  message: string;
}

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Checks a widget's allowed origins: each must be an origin exactly as a browser sends it in
 * `Origin` — scheme, host and port only, no path, query or trailing slash — since gate 4
 * compares strings. `http://` is accepted for localhost everywhere, for any host only in
 * development: a production page served over plain HTTP can be tampered with on the way.
 */
export function checkAllowedOrigins(origins: string[], environment: Config["environment"]): OriginIssue[] {
  const issues: OriginIssue[] = [];
  origins.forEach((origin, i) => {
    const path = ["allowedOrigins", i];
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      issues.push({ path, message: `"${origin}" is not an origin (scheme://host[:port])` });
      return;
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      issues.push({ path, message: `"${origin}" must use https:// (or http:// for localhost)` });
    } else if (url.origin !== origin) {
      issues.push({ path, message: `"${origin}" must be an origin only, written as "${url.origin}" (no path, query or trailing slash)` });
    } else if (url.protocol === "http:" && !LOCAL_HOSTS.has(url.hostname) && environment !== "development") {
      issues.push({ path, message: `"${origin}": http:// origins other than localhost are refused outside development` });
    }
  });
  return issues;
}
