/** The transport for the mini-program: wx.request. */
import { type HttpRequest, type HttpResponse, type Transport, TransportError } from "./transport.js";

/** The part of wx.request this transport uses (miniprogram-api-typings' wx.request fits it). */
export type WxRequest = (options: {
  url: string;
  /** wx.request has no PATCH (see wxTransport). */
  method: Exclude<HttpRequest["method"], "PATCH">;
  header: Record<string, string>;
  data?: string | ArrayBuffer;
  /** Anything but "json": wx leaves the text alone and the client parses it, as over fetch. */
  dataType: string;
  responseType: "text" | "arraybuffer";
  timeout: number;
  success: (result: {
    statusCode: number;
    header: Record<string, string | undefined>;
    data: string | ArrayBuffer | object;
  }) => void;
  fail: (error: { errMsg: string }) => void;
}) => unknown;


/** wx hands the headers over as the server spelled them. */
function contentType(header: Record<string, string | undefined>): string {
  const name = Object.keys(header).find((key) => key.toLowerCase() === "content-type");
  return (name && header[name]) || "";
}

export function wxTransport(request?: WxRequest): Transport {
  const send = request ?? (globalThis as { wx?: { request: WxRequest } }).wx?.request;
  if (!send) throw new Error("wxTransport: wx.request is not available here; pass one");
  return (req: HttpRequest) =>
    new Promise<HttpResponse>((resolve, reject) => {
      const method = req.method;
      if (method === "PATCH") {
        // The base library's wx.request knows no PATCH; the officers' web tools (fetch) do.
        reject(new TransportError("wx.request cannot send PATCH", "client.method_unsupported"));
        return;
      }
      send({
        url: req.url,
        method,
        header: req.headers,
        data: req.body,
        dataType: "text",
        responseType: req.responseType === "bytes" ? "arraybuffer" : "text",
        timeout: req.timeoutMs,
        success: ({ statusCode, header, data }) =>
          resolve({
            status: statusCode,
            contentType: contentType(header),
            body: typeof data === "string" || data instanceof ArrayBuffer ? data : JSON.stringify(data),
          }),
        fail: ({ errMsg }) => reject(new TransportError(errMsg)),
      });
    });
}
