// The pages' one way to the API: same origin, JSON in and out, RFC 9457 problems as ApiError.

export class ApiError extends Error {
  constructor(status, problem, retryAfter = null) {
    super((problem && problem.detail) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || (status === 0 ? "network_error" : `http_${status}`);
    this.retryAfter = retryAfter;
  }
}

/** A fresh Idempotency-Key for one submission of a form that creates something. */
export function idempotencyKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function request(method, path, { body, token, idempotency, language } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotency) headers["Idempotency-Key"] = idempotency;
  if (language) headers["Accept-Language"] = language;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError(0, { code: "network_error" });
  }
  const type = response.headers.get("Content-Type") || "";
  let data = null;
  if (response.status !== 204 && type.includes("json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const retry = Number.parseInt(response.headers.get("Retry-After") || "", 10);
    throw new ApiError(response.status, data, Number.isFinite(retry) ? retry : null);
  }
  return data;
}

/** The ?token= of the page's URL, removed from the address bar and the history at once. */
export function takeToken(name = "token") {
  const url = new URL(window.location.href);
  const token = url.searchParams.get(name);
  if (token === null) return null;
  url.searchParams.delete(name);
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  return token;
}
