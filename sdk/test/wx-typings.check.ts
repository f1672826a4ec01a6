/**
 * The mini-program's own wx.request (WeChat's typings, miniprogram-api-typings) fits the transport:
 * `wxTransport()` with no argument takes it from the global `wx` at run time. Type-checked on its own
 * (tsconfig.wx.json): WeChat's typings and node's both declare `console` and `require`.
 */
import { wxTransport, type WxRequest } from "../src/index.js";

export const fits: WxRequest = wx.request;
export const transport = wxTransport(wx.request);
