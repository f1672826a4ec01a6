export { asJson, createClient, memoryTokenStore } from "./client.js";
export type { Api, ApiError, Args, Client, ClientOptions, Data, JsonData, OperationId, RequestBody, Result, Schemas, TokenStore } from "./client.js";
export { fetchTransport, type FetchLike } from "./fetch.js";
export { wxTransport, type WxRequest } from "./wx.js";
export { type HttpRequest, type HttpResponse, type OperationSpec, type Transport, TransportError } from "./transport.js";
export type { components, operations, paths } from "./schema.js";
export { operationTable } from "./operations.js";
