/** One client for the whole mini-program (the README's example; type-checked by tsconfig.wx.json). */
import { createClient, wxTransport, type TokenStore } from "../../../src/index.js";

const tokenStore: TokenStore = {
  get: () => wx.getStorageSync("gongxin.token") || null,
  set: (token) => (token ? wx.setStorageSync("gongxin.token", token) : wx.removeStorageSync("gongxin.token")),
};

export const gx = createClient({
  baseUrl: "https://gongxin.example.cn",
  transport: wxTransport(), // the global wx.request
  tokenStore,
});

export async function ensureLoggedIn(): Promise<void> {
  if (gx.getToken()) return;
  const { code } = await wx.login();
  const login = await gx.login({ body: { code } });
  if (!login.ok) throw new Error(login.error.message);
  gx.setToken(login.data.token);
}
