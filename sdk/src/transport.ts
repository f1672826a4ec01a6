/** What the client asks of a transport (wx.request, fetch, or a fake in a test), and nothing more. */

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** One row of the generated operation table (src/operations.ts). */
export interface OperationSpec {
  readonly method: Method;
  readonly path: string;
  /** The request body: JSON, bytes (an upload), or none. */
  readonly body: "json" | "bytes" | "none";
  /** Read the answer as text, or as bytes when it may be binary (an image, a spreadsheet). */
  readonly read: "text" | "bytes";
}

export interface HttpRequest {
  method: Method;
  url: string;
  headers: Record<string, string>;
  body?: string | ArrayBuffer;
  /** "bytes": hand the answer over as an ArrayBuffer; "text": as a string (JSON is parsed by the client). */
  responseType: "text" | "bytes";
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  /** The Content-Type header ("" when there is none). */
  contentType: string;
  body: string | ArrayBuffer;
}

/** Sends one request; rejects only when no answer came (network down, timeout, a method it lacks). */
export type Transport = (request: HttpRequest) => Promise<HttpResponse>;

/** A request the transport cannot send at all (no answer came); `code` becomes the error's code. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string = "client.network",
  ) {
    super(message);
  }
}
