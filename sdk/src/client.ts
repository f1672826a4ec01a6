/**
 * The typed client: one function per operation id (`checkIn`, `getProfile` ...), over any transport.
 *
 * Every call resolves to the typed success body (`{ ok: true, status, data }`) or the typed error
 * (`{ ok: false, status, error: { code, message, details } }`); it never throws for an HTTP status.
 * When no answer came at all, `status` is 0 and `error.code` says why: `"client.network"` (network
 * down, timeout) or `"client.method_unsupported"` (PATCH over wx.request); a 2xx whose JSON does not
 * parse (something between the client and the API) is `"client.malformed_response"`. The bearer token lives in one place, the client's token store.
 */
import type { components, operations } from "./schema.js";
import { operationTable } from "./operations.js";
import { type HttpRequest, type HttpResponse, type Transport, TransportError } from "./transport.js";

export type OperationId = keyof typeof operationTable & keyof operations;
export type Schemas = components["schemas"];
/** The error every route answers with: `{"error": {"code", "message", "details"}}`. */
export type ApiError = Schemas["ErrorBody"]["error"];

type Op<K extends OperationId> = operations[K];
type SuccessStatus = 200 | 201 | 202 | 203 | 204 | 205 | 206;
type BodyOf<R> = R extends { content: infer C } ? C[keyof C] : undefined;
type Responses<K extends OperationId> = Op<K>["responses"];

/** The success body of an operation (the union over its 2xx answers; `undefined` for 204). */
export type Data<K extends OperationId> = {
  [S in keyof Responses<K> & SuccessStatus]: BodyOf<Responses<K>[S]>;
}[keyof Responses<K> & SuccessStatus];

/** The request body of an operation, or `never` when it takes none. */
export type RequestBody<K extends OperationId> = [NonNullable<Op<K>["requestBody"]>] extends [never]
  ? never
  : BodyOf<NonNullable<Op<K>["requestBody"]>>;

type BodyArg<K extends OperationId> = [RequestBody<K>] extends [never]
  ? { body?: never }
  : undefined extends Op<K>["requestBody"]
    ? { body?: RequestBody<K> }
    : { body: RequestBody<K> };

/** What a call takes: `path` and `query` parameters as the document types them, and the `body`. */
export type Args<K extends OperationId> = Pick<Op<K>["parameters"], "path" | "query"> & BodyArg<K>;
type ArgList<K extends OperationId> = {} extends Args<K> ? [args?: Args<K>] : [args: Args<K>];

/** The JSON success body of an operation that may also answer a file (``format=png`` ...). */
export type JsonData<K extends OperationId> = Exclude<Data<K>, string | ArrayBuffer>;

/** Narrow a success body to its JSON form; throws if the server answered a file or text. */
export function asJson<T>(data: T): Exclude<T, string | ArrayBuffer> {
  if (typeof data === "string" || data instanceof ArrayBuffer) throw new TypeError("not a JSON answer");
  return data as Exclude<T, string | ArrayBuffer>;
}

export type Result<K extends OperationId> =
  | { ok: true; status: number; data: Data<K> }
  | { ok: false; status: number; error: ApiError };

export type Api = { [K in OperationId]: (...args: ArgList<K>) => Promise<Result<K>> };

/** Where the bearer token is kept: memory by default, `wx.setStorageSync` in a mini-program. */
export interface TokenStore {
  get(): string | null | undefined;
  set(token: string | null): void;
}

export function memoryTokenStore(): TokenStore {
  let token: string | null = null;
  return { get: () => token, set: (value) => void (token = value) };
}

export interface ClientOptions {
  /** The server's origin, e.g. `https://gongxin.example.cn` (no trailing slash needed). */
  baseUrl: string;
  transport: Transport;
  tokenStore?: TokenStore;
  timeoutMs?: number;
}

export type Client = Api & {
  /** Keep the token `login` returned (null: forget it); every later call sends it. */
  setToken(token: string | null): void;
  getToken(): string | null | undefined;
};

type Scalar = string | number | boolean;
type LooseArgs = {
  path?: Record<string, Scalar>;
  query?: Record<string, Scalar | Scalar[] | null | undefined>;
  body?: unknown;
};

function fillPath(template: string, path: Record<string, Scalar> = {}): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = path[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(String(value));
  });
}

function queryString(query: LooseArgs["query"] = {}): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(item))}`);
    }
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

/** UTF-8 bytes as text (an error that came back where bytes were expected). */
function decode(bytes: ArrayBuffer): string {
  const Decoder = (globalThis as { TextDecoder?: new () => { decode(b: ArrayBuffer): string } }).TextDecoder;
  if (Decoder) return new Decoder().decode(bytes);
  let escaped = "";
  for (const byte of new Uint8Array(bytes)) escaped += `%${byte.toString(16).padStart(2, "0")}`;
  try {
    return decodeURIComponent(escaped);
  } catch {
    return "";
  }
}

function asError(status: number, text: string): ApiError {
  try {
    const parsed = JSON.parse(text) as { error?: ApiError };
    if (parsed && typeof parsed.error?.code === "string") return parsed.error;
  } catch {
    // not the API's error body: a proxy's page, an H5 page's 404
  }
  return { code: `http.${status}`, message: `HTTP ${status}`, details: null };
}

/** The answer's body by its Content-Type: JSON parsed, text as a string, anything else as bytes. */
function successBody({ contentType, body }: HttpResponse): unknown {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  const textual = type === "application/json" || type.startsWith("text/") || type === "image/svg+xml";
  if (body instanceof ArrayBuffer && type && !textual) return body;
  const text = typeof body === "string" ? body : decode(body);
  if (type === "application/json") return text ? JSON.parse(text) : undefined;
  return text === "" && !type ? undefined : text;
}

export function createClient(options: ClientOptions): Client {
  const tokens = options.tokenStore ?? memoryTokenStore();
  const base = options.baseUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function call(id: OperationId, args: LooseArgs = {}): Promise<Result<OperationId>> {
    const spec = operationTable[id];
    const headers: Record<string, string> = {};
    const token = tokens.get();
    if (token) headers["Authorization"] = `Bearer ${token}`;
    let body: string | ArrayBuffer | undefined;
    if (args.body !== undefined) {
      if (spec.body === "json") {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(args.body);
      } else {
        headers["Content-Type"] = "application/octet-stream";
        body = args.body as string | ArrayBuffer;
      }
    }
    const request: HttpRequest = {
      method: spec.method,
      url: base + fillPath(spec.path, args.path) + queryString(args.query),
      headers,
      body,
      responseType: spec.read,
      timeoutMs,
    };
    let response;
    try {
      response = await options.transport(request);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const code = error instanceof TransportError ? error.code : "client.network";
      return { ok: false, status: 0, error: { code, message, details: null } };
    }
    const { status } = response;
    if (status >= 200 && status < 300) {
      try {
        return { ok: true, status, data: successBody(response) as Data<OperationId> };
      } catch {
        // a 2xx that is not the JSON it says it is: a proxy or a captive portal, not this API
        const error = { code: "client.malformed_response", message: `HTTP ${status}: not JSON`, details: null };
        return { ok: false, status, error };
      }
    }
    const text = typeof response.body === "string" ? response.body : decode(response.body);
    return { ok: false, status, error: asError(status, text) };
  }

  const client = {
    setToken: (token: string | null) => tokens.set(token),
    getToken: () => tokens.get(),
  } as Client;
  const calls = client as unknown as Record<string, (args?: LooseArgs) => Promise<Result<OperationId>>>;
  for (const id of Object.keys(operationTable) as OperationId[]) {
    if (id in calls) throw new Error(`operation id ${id} clashes with the client's own methods`);
    calls[id] = (args?: LooseArgs) => call(id, args);
  }
  return client;
}
