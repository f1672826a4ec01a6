/** The transport for H5 pages, node and tests: the platform's fetch. */
import type { HttpRequest, HttpResponse, Transport } from "./transport.js";

/** The part of fetch this transport uses (the DOM's and node's fetch both fit). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string | ArrayBuffer; signal?: unknown },
) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

interface TimeoutSignals {
  AbortSignal?: { timeout(ms: number): unknown };
}

export function fetchTransport(fetchImpl?: FetchLike): Transport {
  const send = fetchImpl ?? (globalThis as { fetch?: FetchLike }).fetch;
  if (!send) throw new Error("fetchTransport: this platform has no fetch; pass one");
  return async (request: HttpRequest): Promise<HttpResponse> => {
    const signals = (globalThis as TimeoutSignals).AbortSignal;
    const response = await send(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: signals ? signals.timeout(request.timeoutMs) : undefined,
    });
    const body = request.responseType === "bytes" ? await response.arrayBuffer() : await response.text();
    return { status: response.status, contentType: response.headers.get("content-type") ?? "", body };
  };
}
